// Minimal leveled logging to stderr: one line per message, UTC timestamp, level, text.
//
//   OTLAKE_LOG(INFO) << "listening on " << host << ":" << port;
//
// Thread-safe (a line is written with one write call). Never logs secrets: callers pass values
// through RedactSecret() when a value may be one.
#pragma once

#include <sstream>
#include <string>

namespace otlake {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

/// Sets the lowest level written (default kInfo).
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();

/// Writes one line: "2026-11-22T03:04:05.123Z INFO message".
void WriteLogLine(LogLevel level, const std::string& message);

namespace internal {
class LogMessage {
 public:
  explicit LogMessage(LogLevel level) : level_(level) {}
  ~LogMessage() { WriteLogLine(level_, stream_.str()); }
  std::ostringstream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};
// Swallows the stream so OTLAKE_LOG is one expression (safe inside if/else without braces).
struct LogVoidify {
  void operator&(std::ostream&) {}
};
}  // namespace internal

}  // namespace otlake

#define OTLAKE_LOG_LEVEL_DEBUG ::otlake::LogLevel::kDebug
#define OTLAKE_LOG_LEVEL_INFO ::otlake::LogLevel::kInfo
#define OTLAKE_LOG_LEVEL_WARN ::otlake::LogLevel::kWarn
#define OTLAKE_LOG_LEVEL_ERROR ::otlake::LogLevel::kError
#define OTLAKE_LOG(level)                                            \
  (OTLAKE_LOG_LEVEL_##level < ::otlake::GetLogLevel())               \
      ? (void)0                                                      \
      : ::otlake::internal::LogVoidify() &                           \
            ::otlake::internal::LogMessage(OTLAKE_LOG_LEVEL_##level).stream()
