#pragma once
// Watches the user's checkout (the factory root, but .git/, .jj/ and .factory/) while the floor
// runs, with inotify: an agent without a sandbox can write there by absolute path, and fab cannot
// stop it, but it says so — the item whose call ran when files changed there gets a note in its
// record (the user working beside the floor shows up the same way; the note says so). Linux only;
// elsewhere, or past the kernel's limit of watches, it watches what it can and says what it
// cannot.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace fab::engine {

class CheckoutWatch {
 public:
  explicit CheckoutWatch(std::filesystem::path root);
  ~CheckoutWatch();
  CheckoutWatch(const CheckoutWatch&) = delete;
  CheckoutWatch& operator=(const CheckoutWatch&) = delete;

  // The paths (relative to the root) changed since the last call; no waiting.
  std::vector<std::string> changed();
  // Empty, or why the watch is partial or off.
  const std::string& limits() const { return m_limits; }

 private:
  void add(const std::filesystem::path& dir);
  std::filesystem::path m_root;
  int m_fd = -1;
  std::map<int, std::string> m_dirs;  // watch descriptor -> directory relative to the root
  std::string m_limits;
};

}  // namespace fab::engine
