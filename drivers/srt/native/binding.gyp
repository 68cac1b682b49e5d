# sigpath's libsrt binding (Node-API via node-addon-api), built by the root package's install script during
# `npm ci` (npm_config_nodedir=/usr): `node-gyp rebuild -C drivers/srt/native`. Needs pkg-config and Debian's
# libsrt-openssl-dev (scripts/setup.mjs --runtime), plus g++, make and python3. Output: build/Release/sigpath_srt.node.
{
  "targets": [
    {
      "target_name": "sigpath_srt",
      "sources": ["src/addon.cc", "src/common.cc", "src/receiver.cc", "src/receiver_conns.cc", "src/sender.cc", "src/tscheck.cc", "src/stall.cc", "src/mux.cc", "src/kernelq.cc"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "<!@(pkg-config --cflags srt)"],
      "libraries": ["<!@(pkg-config --libs srt)", "-lpthread"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
