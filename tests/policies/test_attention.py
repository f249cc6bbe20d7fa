"""The transformer's attention: the fused kernel (scaled_dot_product_attention), the CPU training
path written out (scores, softmax, dropout) and torch.nn.MultiheadAttention agree in fp32; a
last encoder layer computing only the tokens read gives what the full layer gives them."""
import pytest
import torch

from act_bench.policies import transformer
from act_bench.policies.transformer import Attention, Encoder


def _inputs(b=3, n_q=7, n_k=11, d=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(b, n, d, generator=g) for n in (n_q, n_k, n_k))
    pad = torch.zeros(b, n_k, dtype=torch.bool)
    pad[0, -4:] = True
    pad[2, -1:] = True
    return q, k, v, pad


def _reference(attn: Attention, q, k, v, pad):
    ref = torch.nn.MultiheadAttention(attn.d_model, attn.n_heads, batch_first=True)
    ref.load_state_dict({"in_proj_weight": attn.in_proj_weight, "in_proj_bias": attn.in_proj_bias,
                         "out_proj.weight": attn.out_proj.weight, "out_proj.bias": attn.out_proj.bias})
    return ref.eval()(q, k, v, key_padding_mask=pad, need_weights=False)[0]


@pytest.mark.parametrize("self_attention", [True, False])
def test_fused_and_written_out_attention_match_torch_in_fp32(monkeypatch, self_attention):
    torch.manual_seed(0)
    attn = Attention(32, 4, dropout=0.1)
    torch.nn.init.normal_(attn.in_proj_bias)
    q, k, v, pad = _inputs()
    if self_attention:
        q = k = v[:, :7]
        pad = pad[:, :7]
    with torch.no_grad():
        expected = _reference(attn, q, k, v if not self_attention else q, pad)
        fused = attn.eval()(q, k, v if not self_attention else q, key_padding_mask=pad)  # no dropout: the fused kernel
        # the training path on the CPU, its dropout keeping everything: the same attention written out
        monkeypatch.setattr(transformer, "dropout_keep_mask", lambda shape, p, dtype, device="cpu": torch.ones(shape))
        written = attn.train()(q, k, v if not self_attention else q, key_padding_mask=pad)
    torch.testing.assert_close(fused, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(written, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pre_norm", [False, True])
def test_a_last_layer_of_only_the_tokens_read_gives_their_outputs(pre_norm):
    torch.manual_seed(0)
    encoder = Encoder(2, 32, 4, 64, dropout=0.1, pre_norm=pre_norm).eval()
    src, pos, _, pad = _inputs(n_q=11)
    with torch.no_grad():
        full = encoder(src, pos=pos[0], key_padding_mask=pad)
        first = encoder(src, pos=pos[0], key_padding_mask=pad, outputs=1)
    assert first.shape == (3, 1, 32)
    torch.testing.assert_close(first, full[:, :1], rtol=1e-5, atol=1e-5)
