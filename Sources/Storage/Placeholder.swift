public enum _StoragePlaceholder {}
