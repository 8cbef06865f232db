"""The devices and precisions a caller may ask for, by name: importable without torch (the HTTP tier
validates requests with them; ``models.device`` turns them into torch devices and dtypes)."""

PRECISIONS = ("auto", "fp32", "fp16", "bf16")
DEVICES = ("auto", "cpu", "cuda")
