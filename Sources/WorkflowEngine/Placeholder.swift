public enum _WorkflowEnginePlaceholder {}
