// "newer-version": both sides raised the same version numbers, to different versions.
//
// A release bumped on two branches (a Cargo.toml's `version`, a go.mod requirement, qmake's
// MODULE_VERSION, a README's dependency line) is merged with the later version: on real merges
// (BENCHMARKS.md) the maintainers nearly always kept the side whose versions are the higher ones,
// and otherwise wrote a version neither side had. Only dotted numbers count as versions (`1.20.3`,
// `v0.31`, `0.2.0-alpha.46`, PEP 440's `7.1.0.dev0`): a line number, a size or a checksum that
// differs leaves the region alone, and so does a side that lowered a version, sides that are each
// higher somewhere, two pre-release tags of one release, and a lower side that only changed the
// base release's tag (1.4.dev1 to 1.4rc1: a release branch releasing it, which keeps its version).
#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <string>
#include <vector>

#include "plugins/resolve/region_rules.h"

namespace fab::resolve {

namespace {

bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// A text split into what is not a number, and its numbers: "v1.2.3 (4)" is "v\x01 (\x01)" with
// 1.2.3 and 4. A number is a run of digits, with more runs after single dots; a dotted one may end
// in a pre-release tag (semver's "-alpha.46", "-rc.0"; PEP 440's "rc1", ".post1", ".dev0"), which
// belongs to it.
struct Number {
  std::string_view release;  // the dotted digits
  std::string_view text;     // with the tag
};
struct Numbers {
  std::string skeleton;
  std::vector<Number> numbers;
};

// The length of a PEP 440 pre-, post- and development-release suffix at the start of `text`
// ("rc1", "b2", ".post1", ".dev0", "a1.dev3"; 0 when there is none): like a semver tag, it belongs
// to the version before it ("7.1.0.dev0" is release 7.1.0).
std::size_t pep440_suffix(std::string_view text) {
  std::size_t i = 0;
  // A word and its number, ending the version there (not "rc1x").
  auto part = [&](std::initializer_list<std::string_view> words) {
    for (auto w : words) {
      if (text.substr(i, w.size()) != w) continue;
      std::size_t j = i + w.size();
      while (j < text.size() && is_digit(text[j])) ++j;
      if (j == i + w.size() || (j < text.size() && is_alnum(text[j]))) continue;
      i = j;
      return;
    }
  };
  part({"rc", "a", "b"});
  part({".post"});
  part({".dev"});
  return i;
}

Numbers numbers_of(std::string_view text) {
  Numbers n;
  for (std::size_t i = 0; i < text.size();) {
    if (!is_digit(text[i])) {
      n.skeleton += text[i++];
      continue;
    }
    const std::size_t begin = i;
    bool dotted = false;
    while (i < text.size() && is_digit(text[i])) ++i;
    while (i + 1 < text.size() && text[i] == '.' && is_digit(text[i + 1])) {
      dotted = true;
      ++i;
      while (i < text.size() && is_digit(text[i])) ++i;
    }
    const std::size_t release_end = i;
    if (dotted && i + 1 < text.size() && text[i] == '-' && std::isalpha(static_cast<unsigned char>(text[i + 1]))) {
      ++i;
      while (i < text.size() && (is_alnum(text[i]) || (text[i] == '.' && i + 1 < text.size() && is_alnum(text[i + 1])))) ++i;
    } else if (dotted) {
      i += pep440_suffix(text.substr(i));
    }
    n.skeleton += '\x01';
    n.numbers.push_back({text.substr(begin, release_end - begin), text.substr(begin, i - begin)});
  }
  return n;
}

std::vector<std::string_view> components(std::string_view number) {
  std::vector<std::string_view> parts;
  for (std::size_t begin = 0;;) {
    const std::size_t dot = number.find('.', begin);
    parts.push_back(number.substr(begin, dot == std::string_view::npos ? std::string_view::npos : dot - begin));
    if (dot == std::string_view::npos) return parts;
    begin = dot + 1;
  }
}

// Compares two runs of digits as the numbers they are (any length).
int compare_digits(std::string_view a, std::string_view b) {
  while (a.size() > 1 && a.front() == '0') a.remove_prefix(1);
  while (b.size() > 1 && b.front() == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return a.compare(b) < 0 ? -1 : a.compare(b) > 0 ? 1 : 0;
}

// Versions compared part by part; a version that is a prefix of the other is the lower.
int compare_versions(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (int c = compare_digits(a[i], b[i]); c != 0) return c;
  }
  return a.size() == b.size() ? 0 : a.size() < b.size() ? -1 : 1;
}

}  // namespace

std::optional<std::string> settle_newer_version(const Region& region) {
  if (region.ours == region.theirs) return std::nullopt;
  const Numbers o = numbers_of(region.ours), b = numbers_of(region.base), t = numbers_of(region.theirs);
  if (o.skeleton != b.skeleton || t.skeleton != b.skeleton || o.numbers.empty()) return std::nullopt;
  bool ours_higher = false, theirs_higher = false;
  for (std::size_t i = 0; i < o.numbers.size(); ++i) {
    if (o.numbers[i].text == b.numbers[i].text && t.numbers[i].text == b.numbers[i].text) continue;
    const auto vo = components(o.numbers[i].release), vb = components(b.numbers[i].release),
               vt = components(t.numbers[i].release);
    if (vo.size() < 2 || vb.size() < 2 || vt.size() < 2) return std::nullopt;  // not a version
    if (compare_versions(vo, vb) < 0 || compare_versions(vt, vb) < 0) return std::nullopt;  // a side lowered it
    // Only the release numbers order versions: where they are the same, the tags (alpha, rc, none)
    // are left to the next resolver.
    const int c = compare_versions(vo, vt);
    if (c == 0 && o.numbers[i].text != t.numbers[i].text) return std::nullopt;
    // The lower side moved the base's own release on by its tag alone (1.4.dev1 to 1.4rc1): it is
    // releasing that version while the other went on to the next one. That is a release branch,
    // which keeps its version (pip 0115), not a release bumped on two branches.
    const auto& lower = c > 0 ? t.numbers[i] : o.numbers[i];
    if (c != 0 && lower.text != b.numbers[i].text && compare_versions(c > 0 ? vt : vo, vb) == 0) return std::nullopt;
    ours_higher = ours_higher || c > 0;
    theirs_higher = theirs_higher || c < 0;
  }
  if (ours_higher == theirs_higher) return std::nullopt;  // each higher somewhere, or the same versions
  return std::string(ours_higher ? region.ours : region.theirs);
}

}  // namespace fab::resolve
