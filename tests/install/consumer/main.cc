// The README's example, built against an installed gort with
// find_package(gort CONFIG REQUIRED): if this stops compiling or running,
// the README is wrong.
#include <gort/gort.h>

#include <cstdio>

int main() {
  int sum = 0;
  gort::runtime::Run(
      [&] {
        gort::Chan<int> results(0);
        for (int i = 0; i < 10; i++) gort::runtime::Go([=] { results.Send(i * i); });
        for (int i = 0; i < 10; i++) {
          std::optional<int> v;
          if (gort::Select(gort::OnRecv(results, &v),
                           gort::OnRecv(gort::time::After(absl::Seconds(1)), nullptr)) == 0) {
            sum += *v;
          }
        }
      },
      {.procs = 4});
  std::printf("consumer ok: sum %d\n", sum);
  return sum == 285 ? 0 : 1;
}
