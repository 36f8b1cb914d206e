// vf's shared-memory helper (packages/core/src/transport/sharedFrames.ts): maps a segment file,
// shared for the sender (it writes frames into pages that stay allocated) and copy-on-write for a
// receiver (which owns its bytes without copying them; its name for the segment goes when its
// mapping does, which tells the sender the segment is free again), and tells whether a receiver
// wrote to its mapping (an unwritten one is forwarded as a link, not copied). Plain Node-API (C), built by
// native/build.mjs with the C compiler and the headers installed with Node; optional: without it,
// segments are written and read with system calls (one copy more each).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdbool.h>
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

// V8 counts an ArrayBuffer's whole length as external memory, and past 64 MB more than after its
// last collection it runs a full mark-compact ("external memory pressure"): with 6 MB frames, one
// every ten frames, which cost a receiver more CPU than the rest of its work (bench/run.ts frames,
// --trace-gc). A receiver's unwritten private mapping costs it no memory of its own (its pages are
// the sender's, in the page cache), so it is counted as 1/EXTERNAL_SHARE of its length: collections
// still come within 64 MB × EXTERNAL_SHARE of dropped mappings, which bounds how long a sender's
// segment stays held; most are collected sooner, by scavenges.
#define EXTERNAL_SHARE 4

typedef struct {
  size_t length;
  // The receiver's name for the segment, unlinked once unmapped; empty for the sender's mappings.
  char path[];
} Mapping;

static void unmap(napi_env env, void* data, void* hint) {
  Mapping* mapping = hint;
  munmap(data, mapping->length);
  if (mapping->path[0] != '\0') {
    unlink(mapping->path);
    int64_t ignored;
    napi_adjust_external_memory(env, (int64_t)(mapping->length - mapping->length / EXTERNAL_SHARE), &ignored);
  }
  free(mapping);
}

// map(path, byteLength, shared): an ArrayBuffer over a mapping of the whole file, which must be a
// regular file of exactly byteLength bytes (> 0). shared: read-write MAP_SHARED (the sender's pool
// segment). Else private (copy-on-write), and `path` is unlinked when the buffer is collected.
static napi_value map_segment(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  bool shared = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 || napi_get_value_bool(env, argv[2], &shared) != napi_ok) {
    napi_throw_type_error(env, NULL, "map(path, byteLength, shared)");
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
  int fd = open(path, (shared ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC);
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
  // The sender's segment gets all its pages now: a tmpfs that cannot back one (a small /dev/shm, as
  // Docker's 64 MB) answers ENOSPC here, which the caller turns into an inline frame; unallocated,
  // the first write past the tmpfs's room would kill the process with SIGBUS.
  if (shared) {
    int error = posix_fallocate(fd, 0, (off_t)length);
    if (error != 0) {
      close(fd);
      return throw_errno(env, "posix_fallocate", error);
    }
  }
  // A receiver's mapping is private and writable: it may change its bytes, and no other process
  // sees it. No MAP_POPULATE there: on a private writable mapping it would copy every page. The
  // sender's new segment is populated: its pages come in one call, not one fault each.
  void* data = mmap(NULL, length, PROT_READ | PROT_WRITE, shared ? MAP_SHARED | MAP_POPULATE : MAP_PRIVATE, fd, 0);
  int error = errno;
  close(fd);
  if (data == MAP_FAILED) return throw_errno(env, "mmap", error);
  Mapping* mapping = malloc(sizeof(Mapping) + (shared ? 1 : path_length + 1));
  if (mapping == NULL) {
    munmap(data, length);
    return throw_errno(env, "malloc", ENOMEM);
  }
  mapping->length = length;
  if (shared) mapping->path[0] = '\0';
  else memcpy(mapping->path, path, path_length + 1);
  napi_value buffer;
  if (napi_create_external_arraybuffer(env, data, length, unmap, mapping, &buffer) != napi_ok) {
    free(mapping);
    munmap(data, length);
    napi_throw_error(env, "VF_SHM", "cannot create an external ArrayBuffer");
    return NULL;
  }
  // See EXTERNAL_SHARE: V8 has counted all of it; take back what the mapping does not cost (given
  // back in unmap, once V8 has uncounted the buffer).
  if (!shared) {
    int64_t ignored;
    napi_adjust_external_memory(env, -(int64_t)(length - length / EXTERNAL_SHARE), &ignored);
  }
  return buffer;
}

// The flags of /proc/self/pagemap entries (Documentation/admin-guide/mm/pagemap.rst): readable
// without privileges since Linux 4.2 (only the frame numbers are hidden, which we do not use).
#define PAGEMAP_PRESENT (1ULL << 63)
#define PAGEMAP_SWAPPED (1ULL << 62)
#define PAGEMAP_FILE_OR_SHARED (1ULL << 61)

// unwritten(arrayBuffer): whether no page of a private file mapping (a receiver's frame, from map)
// was written since it was mapped. A written page of a MAP_PRIVATE mapping becomes an anonymous
// copy: present without the file-page bit, or swapped out. A page never touched is not present,
// and one only read maps the file's own page (file bit set): both still hold the file's bytes.
// So a true answer means the file holds exactly what the buffer shows, and forwarding a link to the
// file forwards these bytes. Throws where pagemap cannot be read (the caller then copies).
static napi_value unwritten(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void* data = NULL;
  size_t length = 0;
  bool is_buffer = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 || napi_is_arraybuffer(env, argv[0], &is_buffer) != napi_ok ||
      !is_buffer || napi_get_arraybuffer_info(env, argv[0], &data, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "unwritten(arrayBuffer)");
    return NULL;
  }
  bool clean = true;
  if (length > 0) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t first = (uintptr_t)data / page;
    uintptr_t end = ((uintptr_t)data + length + page - 1) / page;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return throw_errno(env, "open /proc/self/pagemap", errno);
    uint64_t entries[512];
    for (uintptr_t at = first; clean && at < end;) {
      size_t wanted = end - at < 512 ? (size_t)(end - at) : 512;
      ssize_t got = pread(fd, entries, wanted * sizeof entries[0], (off_t)(at * sizeof entries[0]));
      if (got <= 0 || got % sizeof entries[0] != 0) {
        int error = got < 0 ? errno : EIO;
        close(fd);
        return throw_errno(env, "read /proc/self/pagemap", error);
      }
      size_t count = (size_t)got / sizeof entries[0];
      for (size_t index = 0; index < count; index++) {
        uint64_t entry = entries[index];
        if ((entry & PAGEMAP_SWAPPED) || ((entry & PAGEMAP_PRESENT) && !(entry & PAGEMAP_FILE_OR_SHARED))) {
          clean = false;
          break;
        }
      }
      at += count;
    }
    close(fd);
  }
  napi_value result;
  napi_get_boolean(env, clean, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "map", NAPI_AUTO_LENGTH, map_segment, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "map", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "unwritten", NAPI_AUTO_LENGTH, unwritten, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "unwritten", fn) != napi_ok) return NULL;
  return exports;
}
