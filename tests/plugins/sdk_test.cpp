// The C++ SDK's own parts, without a host: the Latin-1 transport of files that are not UTF-8
// (fab/latin1.h) and how a refinery plugin sees it (plugin.h's request and result).
#include <fab/plugin.h>

#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using nlohmann::json;

namespace {

std::string every_byte() {
  std::string bytes;
  for (int b = 0; b < 256; ++b) bytes += static_cast<char>(b);
  return bytes;
}

// A refinery that answers with its sides' bytes joined, and says what it was given.
class JoinRefinery : public fab::RefineryPlugin {
 public:
  fab::RefineryResult resolve(const fab::RefineryRequest& request) override {
    return {true, request.ours + request.theirs, true, 0,
            request.encoding + " " + std::to_string(request.ours.size()) + " " +
                std::to_string(request.content ? request.content->size() : 0)};
  }
};

}  // namespace

TEST_CASE("every byte goes through the Latin-1 transport and comes back unchanged", "[plugins][sdk]") {
  const auto bytes = every_byte();
  const auto text = fab::latin1_to_utf8(bytes);
  CHECK(text.size() == 128 + 2 * 128);
  CHECK(fab::latin1_to_utf8("Fran\xe7ois") == "Fran\xc3\xa7ois");
  const auto back = fab::utf8_to_latin1(text);
  REQUIRE(back);
  CHECK(*back == bytes);
  CHECK(json::parse(json(text).dump()).get<std::string>() == text);  // valid UTF-8: JSON keeps it
}

TEST_CASE("a text with a character that stands for no byte is refused, saying where", "[plugins][sdk]") {
  struct Row {
    std::string text;
    std::size_t offset;
    std::uint32_t codepoint;
  };
  const auto row = GENERATE(Row{"ab\xc4\x80", 2, 0x100},            // U+0100, the first with no byte
                            Row{"x \xe2\x80\x94 y", 2, 0x2014},     // an em dash
                            Row{"\xf0\x9f\x98\x80", 0, 0x1F600},   // an emoji
                            Row{"a\xc0\x80", 1, 0},                 // an overlong NUL
                            Row{"a\x80", 1, 0},                     // a lone continuation byte
                            Row{"a\xc3", 1, 0},                     // cut short
                            Row{"\xe7", 0, 0});                     // a raw Latin-1 byte is not UTF-8
  INFO(row.text);
  fab::Latin1Refusal why;
  CHECK_FALSE(fab::utf8_to_latin1(row.text, &why));
  CHECK(why.offset == row.offset);
  CHECK(why.codepoint == row.codepoint);
}

TEST_CASE("a refinery sees a Latin-1 request's sides as the file's bytes and answers in kind", "[plugins][sdk]") {
  const std::string ours = "Fran\xe7ois\n", theirs = "\xff\x80\n";
  json request{{"path", "a.po"},
               {"encoding", "latin1"},
               {"base", fab::latin1_to_utf8("")},
               {"ours", fab::latin1_to_utf8(ours)},
               {"theirs", fab::latin1_to_utf8(theirs)},
               {"content", fab::latin1_to_utf8("\xe9")},
               {"with", json::object()}};
  auto answer = fab::plugin_detail::dispatch<JoinRefinery>(request);
  CHECK(answer["message"] == "latin1 9 1");  // 9 bytes, 1 byte: not their UTF-8 lengths
  CHECK(answer["content"] == fab::latin1_to_utf8(ours + theirs));
  CHECK_NOTHROW(answer.dump());  // no invalid UTF-8 on the way back

  SECTION("without the field, the sides are the text as sent") {
    request.erase("encoding");
    answer = fab::plugin_detail::dispatch<JoinRefinery>(request);
    CHECK(answer["message"] == "utf-8 10 2");
  }
  SECTION("a side that is no Latin-1 reading is an error, not a guess") {
    request["ours"] = "\xe2\x80\x94";
    CHECK_THROWS_WITH(fab::plugin_detail::dispatch<JoinRefinery>(request),
                      Catch::Contains("\"ours\" is not a Latin-1 reading of bytes (byte 0)"));
  }
}
