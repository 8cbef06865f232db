"""The built-in models, declared without importing torch: one module per family, each calling
``models.specs.register`` with its names, weights, options and the ``"module:function"`` that builds it."""
