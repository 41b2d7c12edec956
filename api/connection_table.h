#pragma once

// ConnectionTable knows the server's open connections, the idle ones (waiting
// for or reading a request) in the order they last began waiting, so that the
// longest-idle ones are closed first when a new connection arrives at the
// connection cap or when the process is out of file descriptors, and so that
// Stop can drain them all. A connection whose request is being answered is
// never chosen. A held long poll is counted apart, against its own cap
// (--max-waiters): held polls never take the room of ordinary connections, so
// 10,000 of them leave the connection cap whole. It only counts and orders:
// closing is the connection's own business (Connection::Evict).
// Threads: any (one mutex); the connection functions it returns are called by
// the caller, outside the lock.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <vector>

namespace tally {

// What the table needs of a connection.
class Connection {
 public:
  virtual ~Connection() = default;
  // Closes the connection: at once if it is waiting for or reading a request,
  // else after the answer in hand. Any thread.
  virtual void Evict() = 0;
  // Stop: an idle connection closes now, one with a request finishes it first. Any thread.
  virtual void Drain() = 0;
};

class ConnectionTable {
 public:
  enum class Kind {
    kRegular,  // under the cap
    kReserve,  // over the cap, admitted only for the operations endpoints
    kRefused,  // over the cap and the reserve: close without a word
  };
  struct Entry {
    std::weak_ptr<Connection> connection;
    int list = 0;  // which of the table's lists holds it
  };
  using Handle = std::list<Entry>::iterator;

  // Decides the kind of a new connection: regular while fewer than `cap` are
  // open; at the cap the longest-idle regular connection is taken out of the
  // count and put in *victim (the caller evicts it) and the new one is regular;
  // when every regular one is answering a request, reserve while fewer than
  // `reserve` are open; else refused.
  Kind Admit(size_t cap, size_t reserve, std::shared_ptr<Connection>* victim);
  // Adds an admitted connection; it counts as idle since now.
  Handle Add(std::weak_ptr<Connection> connection, Kind kind);
  void Remove(Handle handle);
  // The connection begins waiting for a request: it becomes the most recently idle.
  void Idle(Handle handle);
  // The connection is answering a request (again, after being held): it is not
  // evicted meanwhile.
  void Busy(Handle handle);
  // The connection's request is a held long poll: not evicted, and not counted
  // against the cap until Busy or Idle.
  void Held(Handle handle);
  // Takes up to `n` of the longest-idle regular connections out of the count,
  // for the caller to evict (out of file descriptors).
  std::vector<std::shared_ptr<Connection>> TakeLongestIdle(size_t n);
  // Every connection still open, to drain them.
  std::vector<std::shared_ptr<Connection>> All();
  // Waits until no connection is left, at most `timeout`; true if none is.
  bool WaitEmpty(std::chrono::milliseconds timeout);
  size_t size();

 private:
  enum List : int { kIdleOrder = 0, kBusyList = 1, kReserveList = 2, kLeaving = 3, kHeldList = 4 };
  bool EmptyLocked() const;
  std::list<Entry>& ListOf(int list);

  std::mutex mutex_;
  std::condition_variable empty_;
  std::list<Entry> idle_;     // regular, counted, longest idle first
  std::list<Entry> busy_;     // regular, counted, answering
  std::list<Entry> reserve_;
  std::list<Entry> leaving_;  // evicted, not closed yet
  std::list<Entry> held_;     // regular, held long polls, not counted
};

}  // namespace tally
