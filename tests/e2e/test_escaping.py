#!/usr/bin/python3
"""Hostile record content: every C0 control, DEL, CR/LF, ESC sequences, invalid UTF-8, C1 controls,
U+2028/2029, bidi controls, emoji and accents, sent through log_producer's stdin and through pika
as arbitrary bytes. In the text, raw and json formats each record must be exactly one line, the
file must be valid UTF-8, valid UTF-8 text is kept as is (the escaping rules of escape.hpp /
docs/FORMATS.md are checked against a reference implementation) and json lines parse with
json.loads, the message round-tripping for valid UTF-8 input. Over Redis, "pika" means plain values
pushed with RPUSH (and the envelope record as a Redis envelope)."""
# transports: amqp redis
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from logship_testlib import read_lines, run_test  # noqa: E402


def must_escape(cp):
    return 0x80 <= cp <= 0x9F or cp in (0x2028, 0x2029) or 0x202A <= cp <= 0x202E or 0x2066 <= cp <= 0x2069


def utf8_seq(b, i):
    """(length, code point) of the valid UTF-8 sequence at b[i:], or (0, None)."""
    b0 = b[i]
    if b0 < 0x80:
        return 1, b0
    if b0 & 0xE0 == 0xC0:
        n, cp, lo = 2, b0 & 0x1F, 0x80
    elif b0 & 0xF0 == 0xE0:
        n, cp, lo = 3, b0 & 0x0F, 0x800
    elif b0 & 0xF8 == 0xF0:
        n, cp, lo = 4, b0 & 0x07, 0x10000
    else:
        return 0, None
    if i + n > len(b):
        return 0, None
    for k in range(1, n):
        if b[i + k] & 0xC0 != 0x80:
            return 0, None
        cp = (cp << 6) | (b[i + k] & 0x3F)
    if cp < lo or cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
        return 0, None
    return n, cp


def ref_escape(b):
    """Reference implementation of the documented escaping (escape.hpp)."""
    out = []
    i = 0
    while i < len(b):
        c = b[i]
        if c < 0x80:
            if c == 0x5C:
                out.append("\\\\")
            elif c == 0x0A:
                out.append("\\n")
            elif c == 0x0D:
                out.append("\\r")
            elif c == 0x09:
                out.append("\\t")
            elif c < 0x20 or c == 0x7F:
                out.append(f"\\x{c:02x}")
            else:
                out.append(chr(c))
            i += 1
            continue
        n, cp = utf8_seq(b, i)
        if n == 0:
            out.append(f"\\x{c:02x}")
            i += 1
        elif must_escape(cp):
            out.append(f"\\u{cp:04x}")
            i += n
        else:
            out.append(chr(cp))
            i += n
    return "".join(out)


def is_utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


# Records safe on one stdin line: no LF, no trailing CR (log_producer strips a CRLF's CR).
LINE_SAFE = [
    b"all C0 but LF: " + bytes(c for c in range(0x20) if c != 0x0A) + b" end",
    b"NUL in the middle \x00 and at the end \x00",
    b"DEL \x7f and DEL at the end \x7f",
    b"carriage\rreturn overwrites the line start",
    b"ESC sequences \x1b[31mred\x1b[0m \x1b]0;window title\x07 \x1b[2J\x1b[H cleared",
    b"fake record \r2026-01-01T00:00:00Z FATAL injected@line",
    "C1 NEL \u0085 and CSI \u009b and U+0080 \u0080".encode(),
    "line separator \u2028 paragraph separator \u2029".encode(),
    "bidi \u202etxt.exe\u202c and isolates \u2066x\u2069".encode(),
    "accents caf\u00e9 na\u00efve \u00c5ngstr\u00f6m \u00e7a \u00fc\u00df".encode(),
    "emoji \U0001F600\U0001F44D\U0001F3FD \U0001F468\u200D\U0001F469\u200D\U0001F467 flags \U0001F1EB\U0001F1F7".encode(),
    "CJK \u65e5\u672c\u8a9e \u4e2d\u6587 Greek \u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac".encode(),
    b"backslash \\ and a literal \\n and \\x41",
    b"tab\tseparated\tvalues",
    b"invalid: lone \xff \xfe, continuation \x80\xbf",
    b"invalid: truncated \xc3 and \xe2\x82 then text",
    b"invalid: overlong \xc0\xaf \xe0\x80\xaf \xf0\x80\x80\xaf",
    b"invalid: surrogates \xed\xa0\x80 \xed\xbf\xbf",
    b"invalid: beyond U+10FFFF \xf4\x90\x80\x80 and \xf8\x88\x80\x80\x80",
    b"mixed \xff caf\xc3\xa9 \xc3",
]
# Only through pika: line breaks anywhere, a trailing CR, the empty record.
PIKA_ONLY = [
    b"LF\ninside",
    b"CRLF\r\nand CR at the end\r",
    b"\n\n\n",
    b"ends with LF\n",
    b"",
]
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
TEXT_RE = re.compile(r"^(\S+) (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) (.*)$", re.S)
FORBIDDEN = [c for c in range(0x20) if c != 0x0A] + [0x7F]


def tagged(records, prefix):
    return [f"{prefix}{i:02d}|".encode() + r for i, r in enumerate(records)]


def body(t):
    stdin_records = tagged(LINE_SAFE, "S")
    pika_records = tagged(LINE_SAFE + PIKA_ONLY, "P")
    # An envelope whose metadata is hostile too (text format prints service, host and fields).
    env_body = b"E00|envelope \x1b[1mbold\x1b[0m"
    env_headers = {"logship-version": "1", "logship-ts": "1700000000123456", "logship-level": "error",
                   "logship-service": "svc\nINJECTED", "logship-host": "h\x1bst\u2028x",
                   "logship-field-k": "v\r\n\\", "logship-field-user": "j\u00fcrgen \U0001F600"}
    env_text_tail = ("2023-11-14T22:13:20.123456Z ERROR svc\\nINJECTED@h\\x1bst\\u2028x "
                     "E00|envelope \\x1b[1mbold\\x1b[0m | k=v\\r\\n\\\\ user=j\u00fcrgen \U0001F600")
    expected = stdin_records + pika_records + [env_body]

    for fmt in ("text", "raw", "json"):
        t.section(f"--format {fmt}")
        q = t.queue(fmt)
        r = t.run("logctl", ["setup", "--queue", q])
        t.check(r.rc == 0, "logctl setup", r.describe())
        t.produce(q, b"\n".join(stdin_records) + b"\n", ["--service", "esc"])
        t.publish(q, pika_records + [(env_body, env_headers)])
        out = t.path(f"out.{fmt}")
        t.drain(f"agg-{fmt}", q, out, fmt)
        with open(out, "rb") as f:
            data = f.read()
        lines, partial = read_lines(out)
        t.check(partial == b"", "the file ends with a newline")
        t.check_equal(len(lines), len(expected), f"one line per record ({len(expected)})")
        try:
            text = data.decode("utf-8")
            t.check(True, "the output file is valid UTF-8")
        except UnicodeDecodeError as e:
            t.check(False, "the output file is valid UTF-8", str(e))
            text = data.decode("utf-8", "replace")
        t.check_equal(len(text.splitlines()), len(expected),
                      "str.splitlines() (every Unicode line break) also sees one line per record")
        if fmt in ("text", "raw"):
            bad = [l[:60] for l in lines if any(c in l for c in FORBIDDEN)]
            t.check(not bad, "no control byte (C0 other than the line end, DEL) in any line", repr(bad[:3]))
            bad = [l for l in text.split("\n") if any(must_escape(ord(c)) for c in l)]
            t.check(not bad, "no C1, U+2028/2029 or bidi control left raw", repr(bad[:3]))

        for i, (rec, line) in enumerate(zip(expected, lines)):
            tag = rec.split(b"|", 1)[0].decode()
            sline = line.decode("utf-8", "replace")
            if fmt == "raw":
                t.check_equal(sline, ref_escape(rec), f"{tag}: raw line is the escaped message")
            elif fmt == "text":
                m = TEXT_RE.match(sline)
                if not t.check(m is not None and TS_RE.match(m.group(1)) is not None,
                               f"{tag}: text line is 'TIMESTAMP LEVEL service@host message'", repr(sline)):
                    continue
                if rec is env_body:
                    t.check_equal(sline, env_text_tail, f"{tag}: envelope metadata escaped too")
                else:
                    who = "esc@" if tag.startswith("S") else "-@-"
                    rest = m.group(3)
                    t.check(rest.startswith(who) and rest.endswith(" " + ref_escape(rec)),
                            f"{tag}: text line ends with the escaped message", f"line    {sline!r}\nexpected ... {ref_escape(rec)!r}")
            else:
                try:
                    obj = json.loads(sline)
                except ValueError as e:
                    t.check(False, f"{tag}: json.loads parses the line", f"{e}: {sline!r}")
                    continue
                if not t.check(isinstance(obj, dict) and isinstance(obj.get("message"), str),
                               f"{tag}: the json line is an object with a message", repr(obj)):
                    continue
                t.check(not any(c < 0x20 for c in line), f"{tag}: no raw C0 control byte in the json line")
                if is_utf8(rec):
                    t.check_equal(obj["message"], rec.decode("utf-8"), f"{tag}: json message round-trips")
                else:
                    t.check("\ufffd" in obj["message"] and obj["message"].startswith(tag + "|"),
                            f"{tag}: invalid UTF-8 becomes U+FFFD in json", repr(obj["message"]))
                if rec is env_body:
                    t.check(obj.get("service") == "svc\nINJECTED" and obj.get("host") == "h\x1bst\u2028x"
                            and obj.get("fields") == {"k": "v\r\n\\", "user": "j\u00fcrgen \U0001F600"}
                            and obj.get("level") == "error" and obj.get("ts") == "2023-11-14T22:13:20.123456Z",
                            f"{tag}: json carries the envelope metadata exactly", repr(obj))
                # docs/FORMATS.md: JSON escapes DEL, C1, U+2028/2029 and bidi controls as \\uXXXX too.
                raw = [f"U+{ord(c):04X}" for c in sline if c == "\x7f" or must_escape(ord(c))]
                t.check(not raw, f"{tag}: no raw DEL, C1, U+2028/2029 or bidi control in the json line", ", ".join(raw))

        # Valid UTF-8 without anything to escape is kept byte for byte.
        for rec in expected:
            if is_utf8(rec) and ref_escape(rec) == rec.decode("utf-8") and fmt != "json":
                tag = rec.split(b"|", 1)[0].decode()
                t.check(any(l.endswith(rec) for l in lines), f"{tag}: valid UTF-8 kept as is")
        t.check_equal(t.queue_ready(q + ".dead"), 0, "nothing dead-lettered")


if __name__ == "__main__":
    run_test("escaping", body)
