"""The claims chapter 14 checks on the attractors of the mean map F(z) = mu(decoder(z))
(`analysis.attractors`, `analysis.attractor_report`).

Two come from Radhakrishnan, Belkin & Uhler (PNAS 2020), who iterate trained autoencoders and find that
iteration ends at attractors (fixed points whose Jacobian has spectral radius below 1) and that the training
images themselves are stored as such attractors. Their autoencoders are over-parameterised and trained to
near-zero loss on few images; a VAE on 60 000 images is not, so the second claim is a test of whether their
memorisation picture applies here, not of their result. One comes from the paper's text on Fig. 3: if the
concept vectors were stable fixed points the trajectories would approach them monotonically; the dip the
paper sees suggests a saddle, so repeated inference should not end at the concept vectors.

All three are measured on the main model but outside the seed spread, which reruns chapters 02-06 only
(`main_model=False`). The rules were written before any model above smoke size had been analysed; the kind rule they use
(`attractor_report.attractor_kind`) had its radii set after a 2-epoch smoke model was seen.
"""
from __future__ import annotations

from .rules import PAPER, Claim, share

RADHAKRISHNAN = "Radhakrishnan et al. 2020"
NOTEBOOK = "14_attractors"
KIND_RULE_FIXED = ("before our data, except the radii of the kind rule, set after a 2-epoch smoke model was "
                   "seen (a memory radius of 1/2 of the codes' spacing gave that N_z = 2 model a chance "
                   "'memory'; it is now 1/10)")


def _at_most(share_value: float | None, reproduced: float, partly: float) -> str:
    """share() for a claim that something is rare: 1 - share against 1 - thresholds."""
    return share(None if share_value is None else 1.0 - share_value, 1.0 - reproduced, 1.0 - partly)


CLAIMS: tuple[Claim, ...] = (
    Claim("radhakrishnan.ends_at_attractors", "Radhakrishnan: iteration",
          "Iterating a trained autoencoder from a perturbed input ends at an attractor (a fixed point or cycle "
          "whose Jacobian has spectral radius < 1)", "all inputs", NOTEBOOK,
          lambda v: v["stable_end_share"], lambda f: share(f, 0.9, 0.5),
          "share of the main model's noisy starts (all p of the chapter's grid) that settle at a fixed point or "
          "cycle with spectral radius < 1: >= 0.9 reproduced, >= 0.5 partly", main_model=False,
          unit="of starts", source=RADHAKRISHNAN),
    Claim("radhakrishnan.training_images_stored", "Radhakrishnan: memorisation",
          "The training images are themselves stored: each is a fixed point of the autoencoder", "all images",
          NOTEBOOK, lambda v: v["pixel_fixed_share"], lambda f: share(f, 0.5, 0.1),
          "share of training images x with decoder(mu(x)) within 0.01 RMS per pixel of x: >= 0.5 reproduced, "
          ">= 0.1 partly (their autoencoders memorise a few images; ours is trained on 60 000)",
          noise_dependent=False, main_model=False, unit="of images", source=RADHAKRISHNAN),
    Claim("fig3.concepts_not_attractors", "Fig. 3 (text)",
          "The concept vectors are not stable fixed points (a saddle structure): repeated inference passes near "
          "them without ending there", "saddle", NOTEBOOK, lambda v: v["end_kind_shares"]["concept"],
          lambda f: _at_most(f, 0.1, 0.3),
          "share of the main model's noisy starts that end at an attractor of kind 'concept' (within half the "
          "smallest distance between two concept vectors of one): <= 0.1 reproduced, <= 0.3 partly",
          fixed=KIND_RULE_FIXED, main_model=False, unit="of starts", source=PAPER),
)
