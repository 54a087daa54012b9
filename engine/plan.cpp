#include "engine/plan.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace fab::engine {
namespace {

bool in_flight_state(ItemState s) {
  return s == ItemState::building || s == ItemState::inspecting || s == ItemState::refining;
}

bool finished(Stage s) {
  return s == Stage::agent_finished || s == Stage::inspect_finished || s == Stage::reinspect_finished ||
         s == Stage::refine_finished;
}

const LineView* line_of(const View& view, const std::string& id) {
  for (const auto& l : view.lines) {
    if (l.id == id) return &l;
  }
  return nullptr;
}

const ItemView* item_of(const LineView& line, const std::string& id) {
  for (const auto& i : line.items) {
    if (i.id == id) return &i;
  }
  return nullptr;
}

bool trunk_halted(const View& view, const std::string& trunk) {
  auto it = view.trunks.find(trunk);
  return it != view.trunks.end() && it->second.halted;
}

// Recovery: what a crash (or a stop) left, from the stored states and the repo's facts alone.
void plan_recovery(const View& view, std::vector<Action>& out) {
  for (const auto& line : view.lines) {
    for (const auto& item : line.items) {
      const auto state = std::string(to_string(item.state));
      if (item.has_change && item.change_missing) {
        if (item.state != ItemState::dropped) out.push_back({Do::drop_vanished, {item.id}, line.id, "", ""});
        continue;
      }
      if (item.change_divergent) out.push_back({Do::settle_divergent, {item.id}, line.id, "", ""});
      if (in_flight_state(item.state) && item.crashes >= 2) {
        out.push_back({Do::drop, {item.id}, line.id, "",
                       fmt::format("it made fab crash {} times while {}", item.crashes, state)});
        continue;
      }
      if (item.state == ItemState::refining && item.on_trunk) {
        out.push_back({Do::mark_merged, {item.id}, line.id, "", ""});
      } else if (item.state == ItemState::building) {
        out.push_back({Do::requeue, {item.id}, line.id, "", ""});
      } else if (item.state == ItemState::inspecting && view.resume && line.usable) {
        out.push_back({Do::resume_inspect, {item.id}, line.id, "", ""});
      } else if (item.state == ItemState::refining && view.resume && line.usable) {
        out.push_back({Do::resume_land, {item.id}, line.id, "", ""});
      }
    }
  }
}

struct SlotCount {
  std::map<std::string, int> per_line;
  int total = 0;
  void add(const std::string& line) {
    ++per_line[line];
    ++total;
  }
  bool free(const View& view, const LineView& line) const {
    auto it = per_line.find(line.id);
    const int used = it == per_line.end() ? 0 : it->second;
    return total < view.slots && used < line.slots;
  }
};

}  // namespace

std::string_view to_string(Stage s) {
  switch (s) {
    case Stage::agent_running: return "agent running";
    case Stage::agent_finished: return "agent finished";
    case Stage::inspect_waiting: return "waiting to be inspected";
    case Stage::inspect_running: return "being inspected";
    case Stage::inspect_finished: return "inspected";
    case Stage::land_waiting: return "waiting to land";
    case Stage::refine_running: return "conflicts with the resolvers";
    case Stage::refine_finished: return "resolved";
    case Stage::reinspect_waiting: return "waiting to be inspected again";
    case Stage::reinspect_running: return "being inspected again";
    case Stage::reinspect_finished: return "inspected again";
    case Stage::failed: return "failed";
  }
  return "?";
}

bool uses_slot(Stage s) {
  return s == Stage::agent_running || s == Stage::inspect_running || s == Stage::reinspect_running;
}

std::string_view to_string(Do d) {
  switch (d) {
    case Do::requeue: return "requeue";
    case Do::drop_vanished: return "drop_vanished";
    case Do::settle_divergent: return "settle_divergent";
    case Do::mark_merged: return "mark_merged";
    case Do::resume_inspect: return "resume_inspect";
    case Do::resume_land: return "resume_land";
    case Do::drop_blocked: return "drop_blocked";
    case Do::start: return "start";
    case Do::take_agent: return "take_agent";
    case Do::inspect: return "inspect";
    case Do::take_inspection: return "take_inspection";
    case Do::land: return "land";
    case Do::refine: return "refine";
    case Do::take_refine: return "take_refine";
    case Do::rework: return "rework";
    case Do::drop: return "drop";
    case Do::park: return "park";
  }
  return "?";
}

std::vector<Action> plan(const View& view) {
  std::vector<Action> out;
  if (view.recovering) {
    plan_recovery(view, out);
    return out;
  }

  // 1. Calls that ended: their results are taken even while stopping (finished work is kept); a
  //    call fab itself stopped is parked for the next run. Failed attempts: rework or drop.
  for (const auto& [id, f] : view.flights) {
    const LineView* line = line_of(view, f.line);
    if (!line) continue;
    if (finished(f.stage) && f.interrupted) {
      out.push_back({Do::park, {id}, f.line, "", ""});
    } else if (f.stage == Stage::agent_finished) {
      out.push_back({Do::take_agent, {id}, f.line, "", ""});
    } else if (f.stage == Stage::inspect_finished || f.stage == Stage::reinspect_finished) {
      out.push_back({Do::take_inspection, {id}, f.line, "", ""});
    } else if (f.stage == Stage::refine_finished) {
      out.push_back({Do::take_refine, {id}, f.line, "", ""});
    } else if (f.stage == Stage::failed) {
      const ItemView* item = item_of(*line, id);
      const int attempts = item ? item->attempts : 0;
      if (f.permanent || attempts >= line->rework_limit) {
        out.push_back({Do::drop, {id}, f.line, "", f.permanent ? "permanent" : "out of attempts"});
      } else {
        out.push_back({Do::rework, {id}, f.line, "", ""});
      }
    }
  }
  if (view.stopping) return out;

  // 2. Queued items behind a dropped dependency can never start.
  for (const auto& line : view.lines) {
    std::set<std::string> dropped;
    for (const auto& i : line.items) {
      if (i.state == ItemState::dropped) dropped.insert(i.id);
    }
    // (Transitively: an item behind one dropped in this pass goes too.)
    for (bool again = true; again;) {
      again = false;
      for (const auto& i : line.items) {
        if (i.state != ItemState::queued || dropped.count(i.id) || view.flights.count(i.id)) continue;
        for (const auto& dep : i.depends_on) {
          if (dropped.count(dep)) {
            out.push_back({Do::drop_blocked, {i.id}, line.id, "", dep});
            dropped.insert(i.id);
            again = true;
            break;
          }
        }
      }
    }
  }

  // 3. Slots: every running agent and inspector call counts, per line and over the run. Finishing
  //    work (inspections) goes before starting new work.
  SlotCount slots;
  for (const auto& [id, f] : view.flights) {
    if (uses_slot(f.stage)) slots.add(f.line);
  }
  for (const auto& line : view.lines) {
    for (const auto& item : line.items) {
      auto it = view.flights.find(item.id);
      if (it == view.flights.end()) continue;
      const Stage s = it->second.stage;
      if ((s == Stage::inspect_waiting || s == Stage::reinspect_waiting) && slots.free(view, line)) {
        out.push_back({Do::inspect, {item.id}, line.id, "", ""});
        slots.add(line.id);
      }
    }
  }

  // 4. Starts: ready items (queued or rework, every dependency merged) of usable lines whose trunk
  //    is not halted, while slots are free.
  //    While a gc is due nothing starts: what is in flight finishes, then the floor collects (with
  //    no workspace in use) and starts again.
  for (const auto& line : view.lines) {
    if (view.draining) break;
    if (!line.usable || trunk_halted(view, line.trunk)) continue;
    std::map<std::string, ItemState> state_of;
    for (const auto& i : line.items) state_of[i.id] = i.state;
    Action start{Do::start, {}, line.id, line.trunk, ""};
    for (const auto& item : line.items) {
      if (!slots.free(view, line)) break;
      if (item.state != ItemState::queued && item.state != ItemState::rework) continue;
      if (!item.has_change || view.flights.count(item.id)) continue;
      bool ready = true;
      for (const auto& dep : item.depends_on) {
        auto it = state_of.find(dep);
        ready = ready && it != state_of.end() && it->second == ItemState::merged;
      }
      if (!ready) continue;
      start.items.push_back(item.id);
      slots.add(line.id);
    }
    if (!start.items.empty()) out.push_back(std::move(start));
  }

  // 5. Landing, one trunk at a time each: the items waiting to land on it, in the order they got
  //    there. One with a conflict goes to the resolvers. An item of a line with inspectors lands
  //    alone (a rebase onto a moved trunk is inspected again); items of lines without inspectors
  //    land as a chain: the run of them from one line at the front of the queue.
  std::map<std::string, std::vector<std::pair<long, std::string>>> waiting;  // trunk -> (seq, item)
  for (const auto& [id, f] : view.flights) {
    if (f.stage != Stage::land_waiting) continue;
    const LineView* line = line_of(view, f.line);
    if (!line || !line->usable) continue;
    if (f.conflicted) {
      out.push_back({Do::refine, {id}, f.line, line->trunk, ""});
      continue;
    }
    waiting[line->trunk].push_back({f.seq, id});
  }
  for (auto& [trunk, queue] : waiting) {
    if (trunk_halted(view, trunk)) continue;
    if (auto t = view.trunks.find(trunk); t != view.trunks.end() && t->second.landing) continue;
    std::sort(queue.begin(), queue.end());
    Action land{Do::land, {}, "", trunk, ""};
    const std::string first_line = view.flights.at(queue.front().second).line;
    const LineView* line = line_of(view, first_line);
    land.line = first_line;
    for (const auto& [seq, id] : queue) {
      if (view.flights.at(id).line != first_line) break;
      land.items.push_back(id);
      if (line->has_inspectors) break;
    }
    out.push_back(std::move(land));
  }
  return out;
}

}  // namespace fab::engine
