import math

import pytest
import torch

from vae.latent import (
    carry_over,
    concentration,
    fit_affine,
    interpolation_grid,
    knob_direction,
    random_control_dims,
    residual_dims,
    residual_direction,
    slerp,
    stability,
    top_dims,
    transport_move,
)

D = 16


def pitch_like_deltas(noise: float = 0.0) -> torch.Tensor:
    """Δ_p = p·v with v living in dims {3, 7} (v[3] = 2, v[7] = -1), plus optional noise elsewhere."""
    v = torch.zeros(D)
    v[3], v[7] = 2.0, -1.0
    amounts = torch.arange(1, 13, dtype=torch.float32)
    deltas = amounts[:, None] * v
    if noise:
        g = torch.Generator().manual_seed(0)
        extra = noise * torch.randn(12, D, generator=g)
        extra[:, [3, 7]] = 0
        deltas = deltas + extra
    return deltas


# ----------------------------------------------------------------------------- discovery


def test_top_dims_orders_by_score_and_excludes():
    score = torch.tensor([0.1, 5.0, 3.0, 4.0, 0.0])
    assert top_dims(score, 3).tolist() == [1, 3, 2]
    assert top_dims(score, 2, exclude=[1]).tolist() == [3, 2]
    assert top_dims(score, 5).dtype == torch.long
    with pytest.raises(ValueError, match="between 1 and 4"):
        top_dims(score, 5, exclude=[0])
    with pytest.raises(ValueError, match="NaN"):
        top_dims(torch.tensor([1.0, math.nan]), 1)


def test_synthetic_pitch_deltas_select_their_dims():
    deltas = pitch_like_deltas()
    dims = top_dims(deltas.abs().sum(0), 2)
    assert set(dims.tolist()) == {3, 7}
    assert dims.tolist() == [3, 7]  # |2| > |-1|
    assert concentration(deltas, dims) == pytest.approx(1.0)
    assert stability(deltas, dims) == 1.0


def test_concentration_known_value_and_noise():
    assert concentration(torch.tensor([[3.0, 4.0, 0.0]]), [0]) == pytest.approx(9 / 25)
    assert concentration(torch.tensor([[3.0, 4.0], [0.0, 0.0]]), [0, 1]) == pytest.approx(0.5)  # zero row counts 0
    noisy = pitch_like_deltas(noise=0.5)
    c = concentration(noisy, [3, 7])
    assert 0.5 < c < 1.0
    assert concentration(noisy, [0, 1]) < 0.1


def test_stability_counts_rows_with_the_same_top_k():
    deltas = torch.tensor([[5.0, 4.0, 0.0], [5.0, 0.0, 4.0], [4.0, 5.0, 1.0], [0.0, 1.0, 9.0]])
    assert stability(deltas, [0, 1]) == pytest.approx(0.5)
    assert stability(deltas, [1, 0]) == pytest.approx(0.5)  # a set, not an order


def test_knob_direction_recovers_the_slope():
    deltas = pitch_like_deltas(noise=0.3)
    direction, info = knob_direction(deltas, range(1, 13), [3, 7])
    assert direction.shape == (D,)
    assert torch.allclose(direction[[3, 7]], torch.tensor([2.0, -1.0]), atol=1e-6)
    others = torch.ones(D, dtype=torch.bool)
    others[[3, 7]] = False
    assert (direction[others] == 0).all()
    assert info["r2"] == pytest.approx(1.0)
    assert info["norm"] == pytest.approx(math.sqrt(5))


def test_knob_direction_single_row_is_the_row():
    row = torch.randn(1, D, generator=torch.Generator().manual_seed(1))
    direction, _ = knob_direction(row, [1.0], [0, 2, 4])
    assert torch.allclose(direction[[0, 2, 4]], row[0, [0, 2, 4]])
    assert direction.abs().sum() == pytest.approx(row[0, [0, 2, 4]].abs().sum().item())
    with pytest.raises(ValueError, match="all zero"):
        knob_direction(row, [0.0], [0])
    with pytest.raises(ValueError, match="one amount per row"):
        knob_direction(row, [1.0, 2.0], [0])


def test_knob_direction_scale_is_per_unit_of_amount():
    # The same deltas, measured in half-units, must give half the slope per unit.
    deltas = pitch_like_deltas()
    d_units, _ = knob_direction(deltas, range(1, 13), [3, 7])
    d_half, _ = knob_direction(deltas, [2 * p for p in range(1, 13)], [3, 7])
    assert torch.allclose(d_half, d_units / 2)


# ----------------------------------------------------------------------------- knobs


def test_residual_dims():
    assert residual_dims(8, [0, 3], [5, 3, 7]).tolist() == [1, 2, 4, 6]
    with pytest.raises(ValueError, match="pitch_dims must lie in"):
        residual_dims(8, [8], [])


def test_random_control_dims_avoid_excluded_and_are_seeded():
    exclude = [3, 7, 1, 5, 9, 11, 13]
    for seed in range(20):
        dims = random_control_dims(D, exclude, 7, seed)
        assert len(set(dims.tolist())) == 7
        assert not set(dims.tolist()) & set(exclude)
    assert torch.equal(random_control_dims(D, exclude, 2, 4), random_control_dims(D, exclude, 2, 4))
    draws = {tuple(random_control_dims(D, exclude, 2, s).tolist()) for s in range(10)}
    assert len(draws) > 1
    with pytest.raises(ValueError, match="only 9 of 16"):
        random_control_dims(D, exclude, 10, 0)


def test_carry_over_keeps_size_on_other_dims():
    direction = torch.zeros(D)
    direction[[3, 7]] = torch.tensor([2.0, -1.0])
    ctrl = random_control_dims(D, [3, 7, 1, 5], 2, 0)
    moved = carry_over(direction, [3, 7], ctrl)
    assert moved.norm() == pytest.approx(direction.norm().item())
    assert set(moved.nonzero().flatten().tolist()) == set(ctrl.tolist())
    assert (moved[[3, 7, 1, 5]] == 0).all()
    rows = torch.stack([direction, 2 * direction])  # one move per latent
    assert torch.equal(carry_over(rows, [3, 7], ctrl)[1], 2 * moved)
    with pytest.raises(ValueError, match="same length"):
        carry_over(direction, [3, 7], ctrl[:1])


def test_residual_direction_is_the_principal_axis_scaled_by_std():
    g = torch.Generator().manual_seed(3)
    n = 4000
    z = torch.zeros(n, D)
    z[:, 0] = 100 * torch.randn(n, generator=g)  # huge spread outside the residual dims: ignored
    z[:, 5] = 3 * torch.randn(n, generator=g)
    z[:, 6] = 0.1 * torch.randn(n, generator=g)
    direction, info = residual_direction(z, [5, 6, 8], share=0)
    assert direction[5] == pytest.approx(3.0, rel=0.05)  # positive: the largest component
    assert abs(direction[6]) < 0.05 and direction[0] == 0 and direction[8] == 0
    assert info["std"] == pytest.approx(3.0, rel=0.05)
    assert info["explained"] > 0.99
    flat, info = residual_direction(torch.ones(5, D), [5, 6])
    assert (flat == 0).all() and info["std"] == 0.0


def test_residual_direction_adds_the_axes_that_hold_the_share():
    g = torch.Generator().manual_seed(3)
    z = torch.zeros(4000, D)
    for dim, std in ((5, 3.0), (6, 2.0), (7, 1.0), (8, 0.1)):
        z[:, dim] = std * torch.randn(4000, generator=g)
    direction, info = residual_direction(z, [5, 6, 7, 8], share=0.95)  # 13/14 < 0.95 <= 14/14: three axes
    assert info["n_axes"] == 3 and info["explained"] == pytest.approx(14 / 14.01, rel=0.03)
    assert direction[5:8].tolist() == pytest.approx([3.0, 2.0, 1.0], rel=0.06) and abs(direction[8]) < 0.05
    with pytest.raises(ValueError, match="share"):
        residual_direction(z, [5, 6], share=1.5)


# ----------------------------------------------------------------------------- slerp


def test_slerp_endpoints_exact():
    g = torch.Generator().manual_seed(4)
    a, b = torch.randn(3, D, generator=g), torch.randn(3, D, generator=g)
    assert torch.equal(slerp(a, b, 0.0), a)
    assert torch.equal(slerp(a, b, 1.0), b)
    path = slerp(a[0], b[0], torch.linspace(0, 1, 7))
    assert path.shape == (7, D)
    assert torch.equal(path[0], a[0]) and torch.equal(path[-1], b[0])


def test_slerp_turns_along_the_circle_with_linear_norm():
    a, b = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 2.0, 0.0])
    mid = slerp(a, b, 0.5)
    assert mid.norm() == pytest.approx(1.5)
    assert torch.allclose(mid, 1.5 * torch.tensor([1.0, 1.0, 0.0]) / math.sqrt(2))
    ts = torch.linspace(0, 1, 11)
    path = slerp(a, b, ts)
    assert torch.allclose(path.norm(dim=1), 1 + ts, atol=1e-6)
    angles = torch.atan2(path[:, 1], path[:, 0])
    assert torch.allclose(angles, ts * math.pi / 2, atol=1e-6)
    unit = slerp(a, b / 2, ts)
    assert torch.allclose(unit.norm(dim=1), torch.ones(11), atol=1e-6)


def test_slerp_batched_per_row_t():
    g = torch.Generator().manual_seed(5)
    a, b = torch.randn(4, D, generator=g), torch.randn(4, D, generator=g)
    t = torch.tensor([0.0, 0.25, 0.5, 1.0])
    out = slerp(a, b, t)
    assert out.shape == (4, D)
    for i in range(4):
        assert torch.allclose(out[i], slerp(a[i], b[i], float(t[i])))


@pytest.mark.parametrize("case", ["parallel", "opposite", "zero_a", "zero_both", "opposite_1d", "nearly_opposite"])
def test_slerp_degenerate_vectors_are_finite(case):
    a = torch.tensor([1.0, 2.0, -0.5])
    b = {"parallel": 3 * a, "opposite": -2 * a, "zero_a": a, "zero_both": torch.zeros(3),
         "opposite_1d": None, "nearly_opposite": -a + torch.tensor([0.0, 0.0, 1e-7])}[case]
    if case == "zero_a":
        a = torch.zeros(3)
    if case == "zero_both":
        a = torch.zeros(3)
    if case == "opposite_1d":
        a, b = torch.tensor([1.0]), torch.tensor([-2.0])
    ts = torch.linspace(0, 1, 9)
    path = slerp(a, b, ts)
    assert torch.isfinite(path).all()
    assert torch.equal(path[0], a) and torch.equal(path[-1], b)
    if case == "parallel":
        assert torch.allclose(path, (1 - ts)[:, None] * a + ts[:, None] * b, atol=1e-5)
    if case in ("opposite", "nearly_opposite"):
        expected = (1 - ts) * a.norm() + ts * b.norm()
        assert torch.allclose(path.norm(dim=1), expected, atol=1e-4)
        mid = path[4]
        assert abs(float(mid @ a)) < 1e-3  # half way round: perpendicular to a
    if case in ("zero_a", "zero_both", "opposite_1d"):
        assert torch.allclose(path, (1 - ts)[:, None] * a + ts[:, None] * b, atol=1e-6)


# ----------------------------------------------------------------------------- grid


def grid_case(n=5):
    g = torch.Generator().manual_seed(6)
    src, tgt = torch.randn(D, generator=g), torch.randn(D, generator=g)
    pitch, rhythm = [3, 7], [1, 5, 9, 11, 13]
    return src, tgt, pitch, rhythm, interpolation_grid(src, tgt, pitch, rhythm, n)


def test_grid_corners_are_source_and_target():
    src, tgt, _, _, grid = grid_case()
    assert grid.shape == (5, 5, D)
    assert torch.equal(grid[0, 0], src)
    assert torch.equal(grid[-1, -1], tgt)


def test_grid_rows_columns_and_manhattan():
    src, tgt, pitch, rhythm, grid = grid_case(n=4)
    res = residual_dims(D, pitch, rhythm)
    n = 4
    for i in range(n):
        # pitch dims depend on the row only, rhythm dims on the column only
        assert torch.equal(grid[i, :, pitch], grid[i, :1, pitch].expand(n, -1))
        assert torch.equal(grid[:, i, rhythm], grid[:1, i, rhythm].expand(n, -1))
        assert torch.allclose(grid[i, 0, pitch], slerp(src[pitch], tgt[pitch], i / (n - 1)))
        assert torch.allclose(grid[0, i, rhythm], slerp(src[rhythm], tgt[rhythm], i / (n - 1)))
    for i in range(n):
        for j in range(n):
            t = (i + j) / (2 * (n - 1))
            assert torch.allclose(grid[i, j, res], slerp(src[res], tgt[res], t), atol=1e-6)
    # residual dims are constant along anti-diagonals, and the top-right corner mixes both ends
    assert torch.allclose(grid[0, 2, res], grid[1, 1, res]) and torch.allclose(grid[1, 1, res], grid[2, 0, res])
    assert torch.equal(grid[0, n - 1, pitch], src[pitch]) and torch.equal(grid[0, n - 1, rhythm], tgt[rhythm])


def test_grid_shared_dims_follow_rows_and_n_checked():
    g = torch.Generator().manual_seed(7)
    src, tgt = torch.randn(D, generator=g), torch.randn(D, generator=g)
    grid = interpolation_grid(src, tgt, [3, 7], [7, 9], 3)
    assert torch.equal(grid[:, 0, 7], grid[:, 2, 7])  # dim 7 changes down the rows only
    assert not torch.equal(grid[0, :, 7], grid[2, :, 7])
    for bad in (1, 0):
        with pytest.raises(ValueError, match="n >= 2"):
            interpolation_grid(src, tgt, [3], [5], bad)


# ----------------------------------------------------------------------------- transport


def rotation_map(degrees: float, shift=(0.0, 0.0)) -> torch.Tensor:
    """The (3, 2) affine map of a rotation by ``degrees`` then a shift, as fit_affine returns it."""
    t = math.radians(degrees)
    a = torch.tensor([[math.cos(t), math.sin(t)], [-math.sin(t), math.cos(t)]])  # row vectors: z @ a
    return torch.cat([a, torch.tensor([shift])])


def test_fit_affine_recovers_a_rotation_and_reports_r2():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(200, D, generator=g)
    w_true = rotation_map(30, (0.5, -1.0))
    after = z.clone()
    after[:, [3, 7]] = z[:, [3, 7]] @ w_true[:2] + w_true[2]
    w, r2 = fit_affine(z, after, [3, 7])
    assert torch.allclose(w, w_true, atol=1e-5) and r2 == pytest.approx(1.0)
    _, r2_noise = fit_affine(z, torch.randn(200, D, generator=g), [3, 7])
    assert r2_noise < 0.1
    with pytest.raises(ValueError, match="more than 2 pairs"):
        fit_affine(z[:2], after[:2], [3, 7])
    with pytest.raises(ValueError, match="must both be"):
        fit_affine(z, after[:, :4], [3, 7])


def test_transport_move_whole_fractional_negative_and_beyond():
    forward = torch.stack([rotation_map(30 * p) for p in range(1, 4)])  # +1..+3 units: 30° each
    backward = torch.stack([rotation_map(-30 * p) for p in range(1, 4)])
    z = torch.zeros(2, D)
    z[:, 3] = 1.0
    angle = lambda m: math.degrees(math.atan2((z + m)[0, 7].item(), (z + m)[0, 3].item()))
    assert angle(transport_move(z, forward, backward, 2, [3, 7])) == pytest.approx(60, abs=1e-4)
    assert angle(transport_move(z, forward, backward, -1, [3, 7])) == pytest.approx(-30, abs=1e-4)
    assert angle(transport_move(z, forward, backward, 5, [3, 7])) == pytest.approx(150, abs=1e-4)  # 3 then 2
    half = transport_move(z, forward, backward, 0.5, [3, 7])
    assert torch.allclose(half[0, [3, 7]], 0.5 * (rotation_map(30)[0] - torch.tensor([1.0, 0.0])), atol=1e-6)
    moved = transport_move(z, forward, backward, 2, [3, 7])
    assert moved[:, [d for d in range(D) if d not in (3, 7)]].abs().max() == 0
    assert torch.equal(transport_move(z, forward, backward, 0, [3, 7]), torch.zeros_like(z))
    with pytest.raises(ValueError, match="shape"):
        transport_move(z, forward[:, :2], backward, 1, [3, 7])
    with pytest.raises(ValueError, match="finite"):
        transport_move(z, forward, backward, float("nan"), [3, 7])
