#include <gort/gort.h>

#include <atomic>
#include <cstdio>

int main() {
  std::atomic<int> n{0};
  gort::runtime::Run([&] {
    for (int i = 0; i < 100; i++) gort::runtime::Go([&] { n.fetch_add(1); });
    while (n.load() < 100) gort::runtime::Gosched();
  });
  std::printf("consumer ok: %d fibers\n", n.load());
  return n.load() == 100 ? 0 : 1;
}
