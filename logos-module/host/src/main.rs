//! A Qt-free test host for Logos Core module images. (Being built.)

fn main() {}
