// crop: the two copies of tiled stylization (Model/TiledStyleTransfer.swift). crop_planes
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
