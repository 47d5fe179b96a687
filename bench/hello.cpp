// Bare cpp-httplib hello-world with the same server settings donatio uses (nodelay, 64
// workers, keep-alive 100, backlog 1024): the ceiling the campaign read is measured against.
// Usage: bench_hello PORT
#include <httplib.h>
#include <sys/socket.h>

#include <cstdlib>

int main(int argc, char** argv) {
  const int port = argc > 1 ? std::atoi(argv[1]) : 18080;
  httplib::Server svr;
  svr.new_task_queue = [] { return new httplib::ThreadPool(64); };
  svr.set_tcp_nodelay(true);
  svr.set_keep_alive_max_count(100);
  int fd = -1;
  svr.set_socket_options([&fd](socket_t s) {
    int yes = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &yes, sizeof yes);
    fd = s;
  });
  svr.Get("/hello", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"hello\":\"world\"}", "application/json");
  });
  if (!svr.bind_to_port("127.0.0.1", port)) return 1;
  ::listen(fd, 1024);
  return svr.listen_after_bind() ? 0 : 1;
}
