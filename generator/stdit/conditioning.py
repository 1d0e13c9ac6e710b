"""Text conditioning from the frozen MiniLM encoder: token states, their mask and the pooled vector."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from generator.text_encoder import encode_tokens


@dataclass
class TextCondition:
    states: torch.Tensor  # (B, L, 384)
    mask: torch.Tensor  # (B, L), 1 = real token
    pooled: torch.Tensor  # (B, 384), mean of the real tokens

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> TextCondition:
        return TextCondition(self.states.to(device, dtype), self.mask.to(device), self.pooled.to(device, dtype))

    @staticmethod
    def concat(a: TextCondition, b: TextCondition) -> TextCondition:
        """Stack two conditions on the batch axis, padding the shorter token list."""
        la, lb = a.states.shape[1], b.states.shape[1]
        n = max(la, lb)

        def pad(c: TextCondition, length: int) -> tuple[torch.Tensor, torch.Tensor]:
            extra = n - length
            s = torch.nn.functional.pad(c.states, (0, 0, 0, extra))
            m = torch.nn.functional.pad(c.mask, (0, extra))
            return s, m

        sa, ma = pad(a, la)
        sb, mb = pad(b, lb)
        return TextCondition(torch.cat([sa, sb]), torch.cat([ma, mb]), torch.cat([a.pooled, b.pooled]))


def encode_text(prompts: list[str], batch: int = 512) -> TextCondition:
    """Encode prompts with the frozen MiniLM (offline); the empty prompt is the unconditional input.
    Long lists go through the encoder `batch` prompts at a time (its activations grow with the batch)
    and are padded to one length once."""
    chunks = [encode_tokens(prompts[i:i + batch]) for i in range(0, max(len(prompts), 1), batch)]
    length = max(s.shape[1] for s, _ in chunks)
    states = torch.cat([torch.nn.functional.pad(s, (0, 0, 0, length - s.shape[1])) for s, _ in chunks])
    mask = torch.cat([torch.nn.functional.pad(k, (0, length - k.shape[1])) for _, k in chunks])
    m = mask.unsqueeze(-1).to(states.dtype)
    pooled = (states * m).sum(1) / m.sum(1).clamp(min=1.0)
    return TextCondition(states.float(), mask.long(), pooled.float())


def text_statistics(prompts: list[str], batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-dimension mean and standard deviation of the encoder's token states over `prompts` (real
    tokens only): what `model.LayoutReadout` standardises the words with."""
    sums, squares, count = None, None, 0
    for i in range(0, len(prompts), batch):
        states, mask = encode_tokens(prompts[i:i + batch])
        tokens = states.float()[mask.bool()]
        sums = tokens.sum(0) if sums is None else sums + tokens.sum(0)
        squares = (tokens ** 2).sum(0) if squares is None else squares + (tokens ** 2).sum(0)
        count += tokens.shape[0]
    if sums is None or squares is None or count < 2:
        raise ValueError("text_statistics needs at least one non-empty prompt")
    mean = sums / count
    var = (squares / count - mean ** 2).clamp(min=0.0) * count / (count - 1)
    return mean, var.sqrt()
