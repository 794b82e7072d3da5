"""``synthetic``: a union of K random linear subspaces of dimension d in R^D."""

from __future__ import annotations

from benchmark.plugins import DataBundle, DatasetInfo, Param
from benchmark.synthetic import union_of_subspaces


def load(
    n_points: int,
    seed: int,
    n_subspaces: int,
    subspace_dim: int,
    ambient_dim: int,
    noise: float,
    unit_norm: bool,
    noise_model: str = "norm",
) -> DataBundle:
    """``n_points`` points split evenly over the subspaces, drawn with the run seed;
    ``noise`` is read by ``noise_model`` (see :func:`benchmark.synthetic.union_of_subspaces`)."""
    if n_points % n_subspaces:
        raise ValueError(
            f"synthetic: {n_points} points cannot be split evenly over {n_subspaces} "
            f"subspaces; pick a size divisible by {n_subspaces}"
        )
    X, y = union_of_subspaces(
        n_subspaces,
        subspace_dim,
        ambient_dim,
        n_points // n_subspaces,
        noise,
        unit_norm,
        seed,
        noise_model=noise_model,
    )
    return DataBundle(X=X, y=y, n_clusters=n_subspaces)


DATASET = DatasetInfo(
    id="synthetic",
    name="Synthetic union of subspaces",
    kind="synthetic",
    load=load,
    default_sizes=(300,),
    params={
        "n_subspaces": Param(5, "choice: the classic SSC/EnSC synthetic setting scale"),
        "subspace_dim": Param(4, "choice: subspace dimension of the classic setting"),
        "ambient_dim": Param(30, "choice: ambient dimension of the classic setting"),
        "noise": Param(0.01, "choice: small Gaussian noise"),
        "noise_model": Param(
            "norm",
            "choice: 'norm' reads noise as the noise vector's norm (σ = noise/√D per "
            "coordinate); 'authors' as σ per coordinate with rows renormalised after, as "
            "You et al.'s reference generator (gen_union_of_subspaces)",
        ),
        "unit_norm": Param(True, "choice: points on the unit sphere, as in SSC-OMP/EnSC"),
    },
    dim=lambda ambient_dim, **_: ambient_dim,
    description="K random d-dim subspaces of R^D with Gaussian noise; deterministic by seed.",
)
