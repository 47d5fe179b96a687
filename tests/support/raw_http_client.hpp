// A raw TCP connection to the service, for clients no HTTP library would be: trickling,
// pipelining, half-closing, or reading answers byte for byte.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace donatio::testing {

class RawHttpClient {
 public:
  explicit RawHttpClient(int port);  // connects to 127.0.0.1:port (REQUIREs success)
  ~RawHttpClient();
  RawHttpClient(const RawHttpClient&) = delete;
  RawHttpClient& operator=(const RawHttpClient&) = delete;

  // False once the server has closed the connection.
  bool send(const std::string& bytes);
  // Closes our sending side (the server sees end of stream); we can still read.
  void finish_sending();

  // True when the server closed the connection (EOF or reset) within `wait`; what arrived
  // meanwhile is appended to `received`.
  bool closed_within(std::chrono::milliseconds wait, std::string* received = nullptr);

  // Reads until `received` holds `count` complete answers (head and Content-Length body) or
  // `wait` passes; true when it does.
  bool read_answers(std::size_t count, std::chrono::milliseconds wait, std::string& received);

 private:
  int fd_ = -1;
};

// The complete answers at the front of `text`, split (status line through body).
std::vector<std::string> split_answers(const std::string& text);

}  // namespace donatio::testing
