"""graphgrad's command line and demo (the library itself is ``autograd``, ``nn``, ``optim``).

    graphgrad demo          # train a CNN on the bundled handwritten digits, write pictures
    graphgrad draw          # draw the backward graph of one step of that CNN
    python -m graphgrad --help
"""
__version__ = "0.1.0"
