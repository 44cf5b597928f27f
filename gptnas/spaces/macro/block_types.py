"""The names of GPT-NAS's 15 block types, without importing torch (the space needs only the names)."""

#: Names of the block types, in genome-id order (the families they come from in brackets in the docstrings).
BLOCK_TYPES = (
    "ConvNormActivation",   # EfficientNet
    "SqueezeExcitation",    # EfficientNet
    "Inception",            # GoogLeNet
    "AvgPool",              # GoogLeNet
    "ResBottleneckBlock",   # RegNet
    "Stem",                 # RegNet
    "Bottleneck",           # ResNet
    "BasicBlock",           # ResNet
    "ResNeXtBottleneck",    # ResNeXt (grouped)
    "InvertedResidual",     # ShuffleNetV2
    "WideBottleneck",       # Wide-ResNet
    "MaxPool",              # shared
    "BatchNorm",            # shared
    "ReLU",                 # shared
    "Conv",                 # shared
)
