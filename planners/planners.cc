// The planners module; see DESIGN.md for what it holds.
namespace nextbatch {}
