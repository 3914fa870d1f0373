public enum _RosterFlowCorePlaceholder {}
