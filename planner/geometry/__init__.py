"""The one geometry kernel: closest points, inside tests, transforms, manifold3d conversion."""
