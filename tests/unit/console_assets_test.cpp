// The web console's files embedded by web/embed.mjs (the console_assets target): every path of the
// build answers with its bytes, a content type by extension and an etag; anything else is absent.
#include <gtest/gtest.h>

#include <string>

#include "console/assets.hpp"

using logship::console::findAsset;

TEST(ConsoleAssets, IndexHtmlIsEmbeddedAsHtml) {
  const auto index = findAsset("/index.html");
  ASSERT_TRUE(index.has_value());
  EXPECT_EQ(index->contentType, "text/html; charset=utf-8");
  EXPECT_NE(index->body.find("<div id=\"app\"></div>"), std::string_view::npos);
  // No inline script or style: the server's Content-Security-Policy allows 'self' only.
  EXPECT_EQ(index->body.find("<script>"), std::string_view::npos);
  EXPECT_EQ(index->body.find("<style"), std::string_view::npos);
  EXPECT_EQ(index->body.find("style="), std::string_view::npos);
}

TEST(ConsoleAssets, ScriptAndStylesheetOfThePage) {
  const auto js = findAsset("/assets/app.js");
  const auto css = findAsset("/assets/style.css");
  ASSERT_TRUE(js.has_value());
  ASSERT_TRUE(css.has_value());
  EXPECT_EQ(js->contentType, "text/javascript; charset=utf-8");
  EXPECT_EQ(css->contentType, "text/css; charset=utf-8");
  EXPECT_GT(js->body.size(), 1000U);
  EXPECT_NE(css->body.find(".uplot"), std::string_view::npos) << "uPlot's stylesheet is bundled";
}

TEST(ConsoleAssets, EtagsAreQuotedAndDifferPerContent) {
  const auto a = findAsset("/index.html");
  const auto b = findAsset("/assets/app.js");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->etag.front(), '"');
  EXPECT_EQ(a->etag.back(), '"');
  EXPECT_GT(a->etag.size(), 10U);
  EXPECT_NE(a->etag, b->etag);
}

TEST(ConsoleAssets, UnknownPathsAreAbsent) {
  EXPECT_FALSE(findAsset("/").has_value());
  EXPECT_FALSE(findAsset("/live").has_value());
  EXPECT_FALSE(findAsset("index.html").has_value());
  EXPECT_FALSE(findAsset("/assets/../index.html").has_value());
  EXPECT_FALSE(findAsset("/index.html/").has_value());
  EXPECT_FALSE(findAsset("").has_value());
}
