// The extism:host/env imports, declared as the Extism C PDK (extism-pdk.h) declares them (no download needed).
#pragma once
#include <stdint.h>
#include <stddef.h>

typedef uint64_t ExtismHandle;
#define EXTISM_IMPORT(name) __attribute__((import_module("extism:host/env"), import_name(name)))
#define EXTISM_EXPORT(name) __attribute__((export_name(name)))

EXTISM_IMPORT("input_length") extern uint64_t extism_input_length(void);
EXTISM_IMPORT("input_offset") extern ExtismHandle extism_input_offset(void);
EXTISM_IMPORT("length_unsafe") extern uint64_t extism_length(ExtismHandle);
EXTISM_IMPORT("alloc") extern ExtismHandle extism_alloc(uint64_t);
EXTISM_IMPORT("free") extern void extism_free(ExtismHandle);
EXTISM_IMPORT("load_u8") extern uint8_t extism_load_u8(ExtismHandle);
EXTISM_IMPORT("load_u64") extern uint64_t extism_load_u64(ExtismHandle);
EXTISM_IMPORT("store_u8") extern void extism_store_u8(ExtismHandle, uint8_t);
EXTISM_IMPORT("store_u64") extern void extism_store_u64(ExtismHandle, uint64_t);
EXTISM_IMPORT("output_set") extern void extism_output_set(ExtismHandle, uint64_t);
EXTISM_IMPORT("error_set") extern void extism_error_set(ExtismHandle);
EXTISM_IMPORT("config_get") extern ExtismHandle extism_config_get(ExtismHandle);
EXTISM_IMPORT("log_info") extern void extism_log_info(ExtismHandle);

// Copies n bytes out of kernel memory at h (the C PDK's u64-then-u8 loop).
static void extism_load(ExtismHandle h, void *dest, size_t n) {
  uint8_t *d = dest;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = extism_load_u64(h + i);
    __builtin_memcpy(d + i, &v, 8);
  }
  for (; i < n; i++) d[i] = extism_load_u8(h + i);
}

static void extism_store(ExtismHandle h, const void *src, size_t n) {
  const uint8_t *s = src;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    __builtin_memcpy(&v, s + i, 8);
    extism_store_u64(h + i, v);
  }
  for (; i < n; i++) extism_store_u8(h + i, s[i]);
}

static ExtismHandle extism_alloc_buf(const void *src, size_t n) {
  ExtismHandle h = extism_alloc(n);
  extism_store(h, src, n);
  return h;
}
