// A plugbay plugin in C: a WASI reactor speaking the Extism ABI. Build: sh build.sh
#include <stdlib.h>
#include <string.h>
#include "extism.h"

// The host sends the input as JSON text and reads the output as JSON text.
static char *input_text(size_t *len) {
  size_t n = (size_t)extism_input_length();
  char *buf = malloc(n + 1);
  extism_load(extism_input_offset(), buf, n);
  buf[n] = 0;
  *len = n;
  return buf;
}

// Input: a JSON string (the manifest's schema rules out quotes and backslashes, so no unescaping is needed).
EXTISM_EXPORT("greet") int32_t greet(void) {
  size_t n;
  char *in = input_text(&n);
  if (n < 2 || in[0] != '"' || in[n - 1] != '"') {
    const char *msg = "input must be a JSON string";
    extism_error_set(extism_alloc_buf(msg, strlen(msg)));
    free(in);
    return 1;
  }
  const char *head = "\"Hello, ";
  const char *tail = "!\"";
  size_t name = n - 2, size = strlen(head) + name + strlen(tail);
  char *out = malloc(size);
  memcpy(out, head, strlen(head));
  memcpy(out + strlen(head), in + 1, name);
  memcpy(out + strlen(head) + name, tail, strlen(tail));
  extism_output_set(extism_alloc_buf(out, size), size);
  free(out);
  free(in);
  return 0;
}
