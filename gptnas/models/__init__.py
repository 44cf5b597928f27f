"""Real networks for the search spaces (torch), and their cost.

- :mod:`gptnas.models.nb201_net`: ``NB201Network(arch_str, num_classes, in_channels)``, the NAS-Bench-201 skeleton;
  ``nb201_param_count`` / ``nb201_flops`` give its benchmark figures without building it.
- :mod:`gptnas.models.cost`: ``measure_cost(module, input_shape) -> ModelCost`` (params, FLOPs via torch's
  ``FlopCounterMode``, in the benchmarks' conventions) and ``count_params``.

Submodules are imported explicitly so that ``import gptnas`` never pulls in torch.
"""
