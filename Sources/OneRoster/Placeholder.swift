public enum _OneRosterPlaceholder {}
