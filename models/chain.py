"""A chain ``a+b+c`` is itself an enhancer: each link runs on the previous link's output."""

from __future__ import annotations

import math

import torch

from .base import Enhancer, EnhancerInfo


class ChainEnhancer(Enhancer):
    """Runs its links in order; scales multiply; each link keeps its own tiling and precision."""

    def __init__(self, name: str, links: list[Enhancer]):
        infos = [link.info for link in links]
        info = EnhancerInfo(
            name=name,
            task=infos[-1].task if infos[-1].task != "denoise" else infos[0].task,
            scale=math.prod(i.scale for i in infos),
            licence=" + ".join(dict.fromkeys(i.licence for i in infos)),
            noncommercial=any(i.noncommercial for i in infos),
        )
        super().__init__(info, links[-1].device, links[-1].dtype, tile=0)
        self.links = links

    def with_tile(self, tile: int) -> ChainEnhancer:
        """The chain with every link cutting frames into ``tile``-pixel tiles (links share their networks)."""
        clone = super().with_tile(0)
        clone.links = [link.with_tile(tile) for link in self.links]
        return clone

    @torch.inference_mode()
    def process(self, batch: torch.Tensor) -> torch.Tensor:
        """Run every link; the intermediate result never leaves the device."""
        for link in self.links:
            batch = link.process(batch)
        return batch
