#!/usr/bin/env bash
# The native addon under AddressSanitizer: built apart (in a copy of the project, so the normal
# build is untouched) with -fsanitize=address, then the tests that drive the native code hardest run
# against it, with the sanitizer's runtime preloaded into node. A heap overflow, a use after free or
# a double free stops the run with the sanitizer's report and a non-zero status.
#
#   tools/asan.sh [test files under dist/test/ ...]   (after `npm run build`; default: the list below)
#
# Leak checking is off: node and V8 keep memory until exit by design.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tree="$(mktemp -d /tmp/ioengine-asan-XXXXXX)"
trap 'rm -rf "$tree"' EXIT
cp -r "$root/package.json" "$root/binding.gyp" "$root/native" "$root/dist" "$tree/"
mkdir "$tree/test" && cp -r "$root/test/fixtures" "$tree/test/"  # the fault filesystem's source
ln -s "$root/node_modules" "$tree/node_modules"
(cd "$tree" && CFLAGS="-fsanitize=address -fno-omit-frame-pointer -g" CXXFLAGS="-fsanitize=address -fno-omit-frame-pointer -g" LDFLAGS="-fsanitize=address" \
  npm exec --no -- node-gyp rebuild >/dev/null)  # through npm: its config names the headers (nodedir)
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  tests=(conformance/read-write.test.js conformance/vectored.test.js conformance/concurrency.test.js
    conformance/teardown.test.js conformance/faults.test.js conformance/fault-fs.test.js conformance/many.test.js conformance/model.test.js
    conformance/fs-promises.test.js auto.test.js reclaim.test.js direct.test.js io_uring.test.js
    net/conformance.test.js net/raw.test.js net/zero-copy-teardown.test.js large-memory.test.js)
fi
cd "$tree"
LD_PRELOAD="$(gcc -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
  node --expose-gc --test --test-concurrency=1 "${tests[@]/#/dist/test/}"
