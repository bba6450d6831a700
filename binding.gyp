{
  "targets": [
    {
      "target_name": "ioengine",
      "sources": [
        "native/addon.c",
        "native/records.c",
        "native/lifecycle.c",
        "native/completions.c",
        "native/inline.c",
        "native/blocking.c",
        "native/interrupt.c",
        "native/readdir.c",
        "native/thread.c",
        "native/pool.c"
      ],
      "conditions": [
        ["OS=='linux'", {
          "sources": ["native/io_uring_setup.c", "native/io_uring_register.c", "native/io_uring_queue.c", "native/io_uring_reap.c", "native/linux_aio.c", "native/posix_aio.c", "native/net.c", "native/net_epoll.c", "native/net_uring.c", "native/net_thread.c", "native/owned_buffer.cc"],
          "libraries": ["-lrt"]
        }]
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_c": ["-std=gnu11"],
      "cflags_cc": ["-std=gnu++17"],
      "libraries": ["-lpthread"],
      # Never unloaded: node closes a worker's addons before its isolate frees the ArrayBuffers
      # whose deleters are ours (a SIGSEGV when the worker was the last to load them).
      "ldflags": ["-Wl,-z,nodelete"]
    }
  ],
  "conditions": [
    ["OS=='linux'", {
      "targets": [
        {
          "target_name": "large_memory",
          "sources": ["native/large_memory.cc"],
          "cflags_cc": ["-std=gnu++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-cast-function-type"],
          "ldflags": ["-Wl,-z,nodelete"]  # see above
        },
        {
          "target_name": "netload",
          "type": "executable",
          "sources": ["native/tools/netload.c"],
          "cflags": ["-std=gnu11", "-O2", "-Wall"]
        },
        {
          "target_name": "deny-io-uring",
          "type": "executable",
          "sources": ["native/tools/deny-io-uring.c"],
          "cflags": ["-std=gnu11", "-Wall"]
        }
      ]
    }]
  ]
}
