#include "tasks/parse_error.h"

namespace berth::tasks {

std::string ParseError::to_string() const {
  std::string text;
  if (line != 0) {
    text += "line ";
    text += std::to_string(line);
    if (column != 0) {
      text += ", column ";
      text += std::to_string(column);
    }
    text += ": ";
  }
  text += reason;
  return text;
}

}  // namespace berth::tasks
