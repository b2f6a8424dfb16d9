// The documentation generator's renderers (apps/docgen.hpp): prose sections, roff escaping and
// structure, Markdown tables. What the generated pages hold is checked by the cli_reference and
// man_pages tests; these pin the conversions down.
#include "docgen.hpp"

#include <gtest/gtest.h>

namespace logship::docgen {
namespace {

OptionDoc option(const std::string& names, const std::string& value, const std::string& description) {
  OptionDoc o;
  o.names = names;
  o.value = value;
  o.description = description;
  return o;
}

Page producerPage(const std::string& prose) {
  OptionDoc level = option("-l, --level", "TEXT", "Record level");
  level.defaultValue = "info";
  level.envName = "LOGSHIP_LEVEL";
  level.allowed = "info, warn";
  OptionDoc quiet = option("--quiet", "", "Print nothing | really");
  quiet.flag = true;
  CommandDoc command;
  command.name = "log_producer";
  command.usage = "log_producer [OPTIONS] [message...]";
  command.options = {level, quiet};
  command.examples = {"log_producer \"hi\""};
  return Page{"log_producer", 1, command, parseProse(prose), {}};
}

TEST(Docgen, ProseSectionsSplitAtLevelTwoHeadingsOutsideCode) {
  const auto sections = parseProse("## Name\n\nx - y\n\n## Description\n\n```\n## not a heading\n```\n\ntext\n");
  ASSERT_EQ(sections.size(), 2u);
  EXPECT_EQ(sections[0].title, "Name");
  EXPECT_EQ(sections[1].title, "Description");
  EXPECT_NE(sections[1].body.find("## not a heading"), std::string::npos);
}

TEST(Docgen, ManPageEscapesAndOrdersSections) {
  const std::string man = renderMan(
      producerPage("## Name\n\nlog_producer - ship\n\n## Description\n\n.dot first, a\\b, caf\xC3\xA9 `--x`\n\n"
                   "## Examples\n\n## See also\n\nlogctl(1)\n"),
      "1.2.3", "2026-12-07");
  EXPECT_NE(man.find(".TH \"LOG_PRODUCER\" 1 \"2026-12-07\" \"logship 1.2.3\""), std::string::npos) << man;
  EXPECT_NE(man.find("log_producer \\- ship"), std::string::npos) << man;
  EXPECT_NE(man.find("\\&.dot first, a\\eb, caf\\[u00E9] \\fB\\-\\-x\\fR"), std::string::npos) << man;
  EXPECT_NE(man.find("\\fB\\-l, \\-\\-level\\fR \\fITEXT\\fR"), std::string::npos) << man;
  EXPECT_NE(man.find("Values: info, warn. Default: \\fBinfo\\fR. Environment: \\fBLOGSHIP_LEVEL\\fR."),
            std::string::npos)
      << man;
  EXPECT_NE(man.find("log_producer \"hi\""), std::string::npos) << "the --help examples fill an empty section";
  EXPECT_EQ(man.find(".SH \"SEE ALSO\"") > man.find(".SH OPTIONS"), true) << man;
  EXPECT_EQ(man.find(".SH SYNOPSIS") < man.find(".SH \"DESCRIPTION\""), true) << man;
  EXPECT_EQ(man.find(".SH \"EXAMPLES\"\n.PP"), std::string::npos) << "no paragraph right after a heading";
}

TEST(Docgen, MarkdownTablesEscapeCellsAndSkipSeeAlso) {
  const std::string md = renderMarkdown(
      {producerPage("## Name\n\nx\n\n## Description\n\nWhat.\n\n## See also\n\nz(1)\n")}, "# Reference\n");
  EXPECT_NE(md.find("| `--quiet` | Print nothing \\| really. |"), std::string::npos) << md;
  EXPECT_NE(md.find("| `-l, --level TEXT` | Record level. Values: info, warn. Default: `info`. Environment: "
                    "`LOGSHIP_LEVEL`. |"),
            std::string::npos)
      << md;
  EXPECT_EQ(md.find("z(1)"), std::string::npos) << md;
  EXPECT_NE(md.find("## log_producer\n\nWhat."), std::string::npos) << md;
}

}  // namespace
}  // namespace logship::docgen
