"""Process-wide test settings that must be in place before any test module imports grpc."""

import os

# The test process runs gRPC servers and clients and also forks (initdb, nginx, git, the
# services). gRPC's fork handlers then run in children that exec at once, and initdb once died
# of SIGSEGV there with "Epoll1Poller ... Bad file descriptor"; no test relies on gRPC
# surviving a fork.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
