#pragma once
// What the floor reports while it works (RunOptions::events), for whoever shows progress: `fab run`
// prints a line per event and, on a terminal, keeps a live summary from them.
#include <functional>
#include <string>

#include "workgraph/item_state.h"

namespace fab::engine {

struct RunEvent {
  enum class Kind {
    transition,  // an item moved: line, item, from, to, attempts, text (the reason's first line)
    note,        // something worth saying (recovery, a resolver settled a file, stopping): text
    idle,        // nothing in flight and nothing ready: the floor waits for work (not with until_idle)
  };
  Kind kind = Kind::note;
  std::string line;
  std::string item;
  ItemState from = ItemState::queued;
  ItemState to = ItemState::queued;
  int attempts = 0;  // the item's attempt count after the transition
  std::string text;
};

using RunEventFn = std::function<void(const RunEvent&)>;

}  // namespace fab::engine
