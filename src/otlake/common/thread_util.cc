#include "otlake/common/thread_util.h"

#include <pthread.h>

#include <algorithm>
#include <cstring>

namespace otlake {

void SetCurrentThreadName(std::string_view name) {
  char buf[16];  // the kernel's TASK_COMM_LEN, terminator included
  const size_t n = std::min(name.size(), sizeof(buf) - 1);
  std::memcpy(buf, name.data(), n);
  buf[n] = '\0';
  (void)::pthread_setname_np(::pthread_self(), buf);
}

}  // namespace otlake
