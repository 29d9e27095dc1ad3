// Mistake: a repeated token's gradient overwritten instead of accumulated
// A deliberately wrong embedding_backward for the tests (tests/exercises/test_exercises.cpp): dtok
// is assigned, so the last occurrence of a token wins. Its checker must fail it and print the line
// above. there).
#include <cstdint>
#include <vector>

namespace exercise {

// dx [B, T, C], ids [B, T]  ->  dtok [V, C], dpos [max_len, C]
void embedding_backward(std::vector<float>& dtok, std::vector<float>& dpos,
                        const std::vector<float>& dx, const std::vector<std::int64_t>& ids, int B,
                        int T, int C, int V, int max_len) {
  // forward was: x[b, t, c] = tok_emb[ids[b, t], c] + pos_emb[t, c]. The sum sends dx[b, t, c]
  // unchanged to both rows it read. A row read several times (a repeated token; a position,
  // once per sequence of the batch) gets the SUM of its gradients: accumulate, never assign.
  (void)V;
  (void)max_len;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      const std::int64_t token = ids[b * T + t];
      for (int c = 0; c < C; ++c) {
        const float g = dx[(b * T + t) * C + c];
        dtok[token * C + c] = g;  // wrong: assigned
        dpos[t * C + c] += g;
      }
    }
}

}  // namespace exercise
