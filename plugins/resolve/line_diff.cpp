#include "plugins/resolve/line_diff.h"

namespace fab::resolve {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    std::size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    lines.push_back(text.substr(start, end - start));
    start = end;
  }
  return lines;
}

bool only_blanks(std::string_view text) { return text.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos; }

std::string_view without_eol(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

std::string_view join_lines(const std::vector<std::string_view>& lines, std::size_t from, std::size_t to) {
  if (from >= to) return {};
  const char* begin = lines[from].data();
  return {begin, static_cast<std::size_t>(lines[to - 1].data() + lines[to - 1].size() - begin)};
}

namespace {

using Matches = std::vector<std::pair<std::size_t, std::size_t>>;

// One sub-problem: a[a0, a1) against b[b0, b1).
class Differ {
 public:
  Differ(const std::vector<int>& a, const std::vector<int>& b, Matches& out) : m_a(a), m_b(b), m_out(out) {}

  void diff(std::size_t a0, std::size_t a1, std::size_t b0, std::size_t b1) {
    // Common prefix.
    while (a0 < a1 && b0 < b1 && m_a[a0] == m_b[b0]) {
      m_out.emplace_back(a0++, b0++);
    }
    // Common suffix, emitted after the middle so the matches stay in order.
    std::size_t suffix = 0;
    while (a1 - suffix > a0 && b1 - suffix > b0 && m_a[a1 - suffix - 1] == m_b[b1 - suffix - 1]) {
      ++suffix;
    }
    a1 -= suffix;
    b1 -= suffix;
    if (a0 < a1 && b0 < b1) {
      auto [x, y] = split_point(a0, a1, b0, b1);
      diff(a0, x, b0, y);
      diff(x, a1, y, b1);
    }
    for (std::size_t s = 0; s < suffix; ++s) {
      m_out.emplace_back(a1 + s, b1 + s);
    }
  }

 private:
  // Myers' middle snake (forward and reverse searches meeting in the middle), as in
  // diff-match-patch's bisect: returns a point on an optimal edit path that splits the problem in
  // two strictly smaller ones. Requires a non-empty, prefix/suffix-stripped problem.
  std::pair<std::size_t, std::size_t> split_point(std::size_t a0, std::size_t a1, std::size_t b0, std::size_t b1) {
    const long n = static_cast<long>(a1 - a0);
    const long m = static_cast<long>(b1 - b0);
    const long max_d = (n + m + 1) / 2;
    const long offset = max_d + 1;
    const long length = 2 * max_d + 3;
    std::vector<long> v1(static_cast<std::size_t>(length), -1);
    std::vector<long> v2(static_cast<std::size_t>(length), -1);
    v1[static_cast<std::size_t>(offset + 1)] = 0;
    v2[static_cast<std::size_t>(offset + 1)] = 0;
    const long delta = n - m;
    const bool front = (delta % 2) != 0;
    long k1start = 0, k1end = 0, k2start = 0, k2end = 0;
    auto at = [](std::vector<long>& v, long i) -> long& { return v[static_cast<std::size_t>(i)]; };
    auto a = [&](long i) { return m_a[a0 + static_cast<std::size_t>(i)]; };
    auto b = [&](long i) { return m_b[b0 + static_cast<std::size_t>(i)]; };
    for (long d = 0; d <= max_d; ++d) {
      for (long k1 = -d + k1start; k1 <= d - k1end; k1 += 2) {
        long k1o = offset + k1;
        long x1 = (k1 == -d || (k1 != d && at(v1, k1o - 1) < at(v1, k1o + 1))) ? at(v1, k1o + 1)
                                                                              : at(v1, k1o - 1) + 1;
        long y1 = x1 - k1;
        while (x1 < n && y1 < m && a(x1) == b(y1)) {
          ++x1;
          ++y1;
        }
        at(v1, k1o) = x1;
        if (x1 > n) {
          k1end += 2;
        } else if (y1 > m) {
          k1start += 2;
        } else if (front) {
          long k2o = offset + delta - k1;
          if (k2o >= 0 && k2o < length && at(v2, k2o) != -1 && x1 >= n - at(v2, k2o)) {
            return {a0 + static_cast<std::size_t>(x1), b0 + static_cast<std::size_t>(y1)};
          }
        }
      }
      for (long k2 = -d + k2start; k2 <= d - k2end; k2 += 2) {
        long k2o = offset + k2;
        long x2 = (k2 == -d || (k2 != d && at(v2, k2o - 1) < at(v2, k2o + 1))) ? at(v2, k2o + 1)
                                                                              : at(v2, k2o - 1) + 1;
        long y2 = x2 - k2;
        while (x2 < n && y2 < m && a(n - x2 - 1) == b(m - y2 - 1)) {
          ++x2;
          ++y2;
        }
        at(v2, k2o) = x2;
        if (x2 > n) {
          k2end += 2;
        } else if (y2 > m) {
          k2start += 2;
        } else if (!front) {
          long k1o = offset + delta - k2;
          if (k1o >= 0 && k1o < length && at(v1, k1o) != -1) {
            long x1 = at(v1, k1o);
            long y1 = x1 - (k1o - offset);
            if (x1 >= n - x2) {
              return {a0 + static_cast<std::size_t>(x1), b0 + static_cast<std::size_t>(y1)};
            }
          }
        }
      }
    }
    // Unreachable for a non-empty problem; splitting off the first line of `a` is still correct.
    return {a0 + 1, b0};
  }

  const std::vector<int>& m_a;
  const std::vector<int>& m_b;
  Matches& m_out;
};

}  // namespace

std::vector<std::pair<std::size_t, std::size_t>> common_lines(const std::vector<int>& a,
                                                              const std::vector<int>& b) {
  Matches out;
  Differ(a, b, out).diff(0, a.size(), 0, b.size());
  return out;
}

}  // namespace fab::resolve
