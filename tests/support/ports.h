#pragma once
// Ports of 127.0.0.1 for tests, with plain sockets. (Not with httplib::Server: it sets SO_REUSEPORT,
// so a second server binds the same port beside it, and its destructor leaves a bound socket open.)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

namespace fab::test {

// A socket bound to 127.0.0.1:`port` (0: any free port), listening while it lives.
class HeldPort {
 public:
  explicit HeldPort(int port = 0) {
    m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(m_fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(m_fd, 1) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(m_fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    m_port = ntohs(addr.sin_port);
  }
  ~HeldPort() { ::close(m_fd); }
  HeldPort(const HeldPort&) = delete;
  HeldPort& operator=(const HeldPort&) = delete;
  int port() const { return m_port; }

 private:
  int m_fd = -1;
  int m_port = 0;
};

// A port nobody listens on now (free a moment ago; connecting to it is refused).
inline int free_port() { return HeldPort().port(); }

}  // namespace fab::test
