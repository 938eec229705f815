import os
import sys

# ranks.py sits next to the tests; spawned ranks inherit sys.path.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
