#pragma once
// The Blob service's XML answers (List Blobs, Get Block List), parsed as they stream in (expat):
// the body is fed piece by piece, as curl delivers it, and nothing but the fields asked for is
// kept. A listing of 5,000 blobs is never held as a document.
//
// The reader reports each element's text when the element closes, with its path from the
// root: "EnumerationResults/Blobs/Blob/Name". Elements with children report "" as text.
// Entities, DTDs and external references are refused (Azure sends none), so a hostile endpoint
// cannot make the parser expand or fetch anything.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace berth::storage::azure {

class XmlReader {
 public:
  // Called for each closing element: its path (names joined by '/') and its text.
  using OnElement = std::function<void(std::string_view path, std::string_view text)>;

  explicit XmlReader(OnElement on_element);
  XmlReader(const XmlReader&) = delete;
  XmlReader& operator=(const XmlReader&) = delete;
  ~XmlReader();

  // Feeds the next piece of the document. false once the document is malformed (see error()).
  bool feed(std::string_view piece);
  // Ends the document. false when it is malformed or incomplete.
  bool finish();
  // What was wrong, for error messages ("" while nothing is).
  const std::string& error() const;

  struct State;  // expat's callbacks reach it; defined in the .cc only

 private:
  std::unique_ptr<State> state_;
};

}  // namespace berth::storage::azure
