"""Motion in and out: SMPL-X parameter sequences (+ object tracks) to BallPlay clips, and clips or
policy rollouts back to SMPL-X parameters or an animated glTF of our humanoid.

The SMPL-X model files are never shipped (licence): every function that needs them takes the
user's model folder.
"""
