#!/usr/bin/env bash
# Makes throwaway TLS material for tests and demos (never for production) in DIR:
#   ca.pem                         "Logship test CA", signs the two certificates below
#   server.pem, server.key         CN localhost, SAN DNS:localhost and IP:127.0.0.1 (not ::1, so a
#                                  client connecting to [::1] sees a name mismatch)
#   client.pem, client.key         CN logship-client, for client-certificate authentication
#   other-ca.pem                   an unrelated CA (a client trusting only it must refuse the server)
#   other-client.pem, other-client.key   a client certificate signed by the unrelated CA
#   make-test-ca.sh DIR [DAYS]     # DAYS of validity, 7 by default
# Keys are unencrypted P-256 EC keys; the files are readable by everyone (the rabbitmq user
# must read the server's), so keep DIR out of anything shared.
set -euo pipefail

dir=${1:?usage: make-test-ca.sh DIR [DAYS]}
days=${2:-7}
command -v openssl >/dev/null || { echo "make-test-ca.sh: openssl is not installed" >&2; exit 1; }
mkdir -p "$dir"
cd "$dir"

cat >ext.cnf <<'EOF'
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
EOF

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# make_ca NAME SUBJECT
make_ca() {
  key "$1.key"
  openssl req -new -x509 -key "$1.key" -out "$1.pem" -days "$days" -subj "$2" -config ext.cnf -extensions ca
}

# make_cert NAME SUBJECT CA EXTENSIONS
make_cert() {
  key "$1.key"
  openssl req -new -key "$1.key" -subj "$2" -config ext.cnf |
    openssl x509 -req -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -out "$1.pem" -days "$days" \
      -extfile ext.cnf -extensions "$4" 2>/dev/null
}

make_ca ca "/O=Logship tests/CN=Logship test CA"
make_ca other-ca "/O=Somebody else/CN=Unrelated test CA"
make_cert server "/O=Logship tests/CN=localhost" ca server
make_cert client "/O=Logship tests/CN=logship-client" ca client
make_cert other-client "/O=Somebody else/CN=stranger" other-ca client
rm -f ext.cnf ./*.srl
chmod 644 ./*.pem ./*.key
openssl verify -CAfile ca.pem server.pem client.pem >/dev/null
echo "make-test-ca.sh: test CA, server (localhost, 127.0.0.1) and client certificates in $(pwd)"
