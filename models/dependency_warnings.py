"""Silence the one dependency warning that would reach every CLI user's terminal (and nothing else)."""

import warnings

# spandrel_extra_arches (MIRNetv2, custom checkpoints) decorates CodeFormer with torch.jit.script at import
# time, and current torch releases answer every such call with a FutureWarning that reached every CLI call's
# terminal. We never script anything: silence exactly that message from torch's jit module, here, before
# any model module imports spandrel_extra_arches. Other warnings still show.
warnings.filterwarnings(
    "ignore",
    message=r"`torch\.jit\.script` is (deprecated|not supported)",
    category=FutureWarning,
    module=r"torch\.jit\._script",
)
