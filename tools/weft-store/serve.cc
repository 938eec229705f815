// `weft-store serve`: a StoreServer in the foreground until SIGINT/SIGTERM.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>

#include "commands.h"
#include "weft/error.h"
#include "weft/log.h"

namespace weft::tool {

int serve(const ServeArgs& args) {
  WEFT_REQUIRE(args.port >= 0 && args.port <= 65535, "--port ", args.port, " is out of range");
  // Block the signals before the server thread starts so that it inherits
  // the mask and only sigwait() below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // One descriptor per client: a standalone server may use all it is allowed.
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }

  StoreServerOptions options;
  options.host = args.host;
  options.port = static_cast<uint16_t>(args.port);
  if (!args.token_file.empty()) options.token = read_token_file(args.token_file);
  auto server = StoreServer::start(options);
  std::printf("weft-store listening on %s port %u\n", args.host.c_str(), server->port());
  std::fflush(stdout);

  int received = 0;
  sigwait(&signals, &received);
  WEFT_INFO("store", "weft-store: signal ", received, ", stopping with ", server->num_clients(),
            " clients and ", server->num_keys(), " keys");
  server->stop();
  std::printf("weft-store stopped (signal %d)\n", received);
  return 0;
}

}  // namespace weft::tool
