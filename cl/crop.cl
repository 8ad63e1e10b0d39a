// crop: the kernels of tiled stylization (Objective/TiledObjective.swift). crop_planes
// copies a th x tw window at (y0, x0) of a planar C x H x W image into a C x th x tw tile;
// add_tile adds such a tile back into the same window (the tile's share of the gradient).
// The window always lies inside the image. Tiles are added one after another on an in-order
// queue, so overlapping windows never race.

__kernel void crop_planes(__global const float* image, const int c, const int height, const int width,
                          __global float* tile, const int th, const int tw, const int y0, const int x0) {
    const int i = get_global_id(0);
    if (i >= c * th * tw) return;
    const int x = i % tw, y = (i / tw) % th, ch = i / (tw * th);
    tile[i] = image[(ch * height + y0 + y) * width + x0 + x];
}

__kernel void add_tile(__global const float* tile, const int c, const int th, const int tw,
                       __global float* image, const int height, const int width, const int y0, const int x0) {
    const int i = get_global_id(0);
    if (i >= c * th * tw) return;
    const int x = i % tw, y = (i / tw) % th, ch = i / (tw * th);
    image[(ch * height + y0 + y) * width + x0 + x] += tile[i];
}

// tile_mask: a tile's mask at one layer (lh x lw): 1 on its owned block [ox0, ox1) x [oy0, oy1),
// 0 elsewhere, times (with has_user) the window at (uy0, ux0) of the user's whole-layer mask
// (uw wide), or with root its square root (the W2 loss weights pixels by the mask, so the
// features are multiplied by its root); with has_squared also the result's square (what a
// masked style gradient scales by).
__kernel void tile_mask(__global float* mask, __global float* squared, const int has_squared, const int lh, const int lw,
                        const int ox0, const int oy0, const int ox1, const int oy1,
                        __global const float* user, const int has_user, const int uw, const int uy0, const int ux0,
                        const int root) {
    const int i = get_global_id(0);
    if (i >= lh * lw) return;
    const int x = i % lw, y = i / lw;
    const float own = (x >= ox0 && x < ox1 && y >= oy0 && y < oy1) ? 1.0f : 0.0f;
    const float u = has_user ? user[(uy0 + y) * uw + ux0 + x] : 1.0f;
    const float m = has_user ? own * (root ? sqrt(u) : u) : own;
    mask[i] = m;
    if (has_squared) squared[i] = m * m;
}
