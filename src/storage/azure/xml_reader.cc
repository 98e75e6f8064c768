#include "storage/azure/xml_reader.h"

#include <expat.h>

#include <algorithm>
#include <climits>
#include <vector>

namespace berth::storage::azure {

// An element's text is kept only up to this size: the Blob service's values (names, sizes,
// dates, block ids) are far shorter, and a hostile endpoint cannot grow memory with one value.
constexpr std::size_t kMaxText = 64 * 1024;

struct XmlReader::State {
  XML_Parser parser = nullptr;
  OnElement on_element;
  std::string path;                  // "A/B/C" of the open elements
  std::vector<std::size_t> lengths;  // path length before each open element was added
  std::string text;                  // text of the innermost open element
  std::string error;
  bool finished = false;

  void fail(std::string message) {
    if (error.empty()) error = std::move(message);
    XML_StopParser(parser, XML_FALSE);
  }
};

namespace {

using State = XmlReader::State;

void on_start(void* user, const XML_Char* name, const XML_Char**) {
  auto* state = static_cast<State*>(user);
  state->lengths.push_back(state->path.size());
  if (!state->path.empty()) state->path += '/';
  state->path += name;
  state->text.clear();
}

void on_end(void* user, const XML_Char*) {
  auto* state = static_cast<State*>(user);
  state->on_element(state->path, state->text);
  state->text.clear();
  state->path.resize(state->lengths.back());
  state->lengths.pop_back();
}

void on_text(void* user, const XML_Char* data, int length) {
  auto* state = static_cast<State*>(user);
  if (state->text.size() + static_cast<std::size_t>(length) > kMaxText) {
    state->fail("an XML value is longer than 64 KiB");
    return;
  }
  state->text.append(data, static_cast<std::size_t>(length));
}

void on_doctype(void* user, const XML_Char*, const XML_Char*, const XML_Char*, int) {
  static_cast<State*>(user)->fail("the XML has a document type declaration");
}

void on_entity(void* user, const XML_Char*, int, const XML_Char*, int, const XML_Char*,
               const XML_Char*, const XML_Char*, const XML_Char*) {
  static_cast<State*>(user)->fail("the XML declares an entity");
}

}  // namespace

XmlReader::XmlReader(OnElement on_element) : state_(std::make_unique<State>()) {
  state_->on_element = std::move(on_element);
  state_->parser = XML_ParserCreate("UTF-8");
  if (state_->parser == nullptr) return;  // feed() reports it
  XML_SetUserData(state_->parser, state_.get());
  XML_SetElementHandler(state_->parser, on_start, on_end);
  XML_SetCharacterDataHandler(state_->parser, on_text);
  XML_SetStartDoctypeDeclHandler(state_->parser, on_doctype);
  XML_SetEntityDeclHandler(state_->parser, on_entity);
  XML_SetParamEntityParsing(state_->parser, XML_PARAM_ENTITY_PARSING_NEVER);
}

XmlReader::~XmlReader() {
  if (state_->parser != nullptr) XML_ParserFree(state_->parser);
}

bool XmlReader::feed(std::string_view piece) {
  if (!state_->error.empty()) return false;
  if (state_->parser == nullptr) {
    state_->error = "out of memory";
    return false;
  }
  while (!piece.empty()) {
    const int length = static_cast<int>(std::min<std::size_t>(piece.size(), INT_MAX / 2));
    if (XML_Parse(state_->parser, piece.data(), length, XML_FALSE) != XML_STATUS_OK) {
      if (state_->error.empty()) {
        state_->error = XML_ErrorString(XML_GetErrorCode(state_->parser));
      }
      return false;
    }
    piece.remove_prefix(static_cast<std::size_t>(length));
  }
  return true;
}

bool XmlReader::finish() {
  if (!state_->error.empty() || state_->parser == nullptr) return false;
  if (XML_Parse(state_->parser, nullptr, 0, XML_TRUE) != XML_STATUS_OK) {
    if (state_->error.empty()) state_->error = XML_ErrorString(XML_GetErrorCode(state_->parser));
    return false;
  }
  return true;
}

const std::string& XmlReader::error() const { return state_->error; }

}  // namespace berth::storage::azure
