// vf's shared-memory helper (packages/core/src/transport/sharedFrames.ts): maps a segment file
// copy-on-write, so that a receiver owns its bytes without copying them. Plain Node-API (C), built
// by native/build.mjs with the C compiler and the headers installed with Node; optional: without
// it, segments are read into memory (one copy more).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static napi_value throw_errno(napi_env env, const char* what, int error) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(error));
  napi_throw_error(env, "VF_SHM", message);
  return NULL;
}

static void unmap(napi_env env, void* data, void* hint) {
  (void)env;
  munmap(data, (size_t)(uintptr_t)hint);
}

// map(path, byteLength): an ArrayBuffer over a private (copy-on-write) mapping of the whole file,
// which must be a regular file of exactly byteLength bytes (> 0). Unmapped when collected.
static napi_value map_segment(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2) {
    napi_throw_type_error(env, NULL, "map(path, byteLength)");
    return NULL;
  }
  char path[4096];
  size_t path_length = 0;
  double wanted = 0;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &path_length) != napi_ok || path_length >= sizeof path - 1 ||
      napi_get_value_double(env, argv[1], &wanted) != napi_ok || !(wanted > 0) || wanted > (double)SIZE_MAX) {
    napi_throw_type_error(env, NULL, "map(path, byteLength): a path and a positive length");
    return NULL;
  }
  size_t length = (size_t)wanted;
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, "open", errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int error = errno;
    close(fd);
    return throw_errno(env, "fstat", error);
  }
  if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != (uint64_t)length) {
    close(fd);
    napi_throw_error(env, "VF_SHM_SIZE", "segment is not a regular file of the announced size");
    return NULL;
  }
  // Private and writable: the receiver may change its bytes, and no other process sees it.
  void* data = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  int error = errno;
  close(fd);
  if (data == MAP_FAILED) return throw_errno(env, "mmap", error);
  napi_value buffer;
  if (napi_create_external_arraybuffer(env, data, length, unmap, (void*)(uintptr_t)length, &buffer) != napi_ok) {
    munmap(data, length);
    napi_throw_error(env, "VF_SHM", "cannot create an external ArrayBuffer");
    return NULL;
  }
  // No napi_adjust_external_memory: V8 counts an ArrayBuffer's backing store, external or not, and
  // collects dropped mappings as it does any buffer (measured: ~80 MB of 2.5 GB mapped stays live).
  return buffer;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "map", NAPI_AUTO_LENGTH, map_segment, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "map", fn) != napi_ok) return NULL;
  return exports;
}
