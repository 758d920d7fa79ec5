//! Finding the input files: a sorted, streaming, depth-first walk of INPUT_DIR.
//!
//! The order is fixed (entries sorted by name at every level), so manifests and shards are reproducible.
//! Only the listing of the directories on the current path is held, never the whole tree. Hidden entries
//! are skipped, symbolic links are never followed out of INPUT_DIR (nor into directories at all, which
//! could loop), the output directory is left out when it lies inside INPUT_DIR, and anything but regular
//! files (FIFOs, sockets, devices) is ignored because reading one could block forever.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use super::BatchError;
use crate::render::Format;

/// Input patterns used when no `--include` is given.
pub const DEFAULT_INCLUDE: [&str; 4] = ["*.txt", "*.html", "*.htm", "*.md"];

/// Which files are inputs: `--include` and `--exclude` globs. A glob without `/` matches the file name
/// (anywhere in the tree); one with `/` matches the path relative to INPUT_DIR.
#[derive(Debug, Clone)]
pub struct Filter {
    include_names: GlobSet,
    include_paths: GlobSet,
    exclude_names: GlobSet,
    exclude_paths: GlobSet,
}

impl Filter {
    pub fn new(include: &[String], exclude: &[String]) -> Result<Filter, BatchError> {
        // The defaults also match `.HTML` and friends, as saved by some browsers.
        let (include, case_insensitive): (Vec<String>, bool) = if include.is_empty() {
            (
                DEFAULT_INCLUDE.iter().map(|s| s.to_string()).collect(),
                true,
            )
        } else {
            (include.to_vec(), false)
        };
        let (include_names, include_paths) = build_sets(&include, case_insensitive)?;
        let (exclude_names, exclude_paths) = build_sets(exclude, false)?;
        Ok(Filter {
            include_names,
            include_paths,
            exclude_names,
            exclude_paths,
        })
    }

    /// Whether the file at `rel` (relative path, `/`-separated) named `name` is an input.
    pub fn is_input(&self, rel: &str, name: &str) -> bool {
        (self.include_names.is_match(name) || self.include_paths.is_match(rel))
            && !self.excluded(rel, name)
    }

    /// Whether `rel` is excluded (a directory excluded here is not entered).
    pub fn excluded(&self, rel: &str, name: &str) -> bool {
        self.exclude_names.is_match(name) || self.exclude_paths.is_match(rel)
    }
}

fn build_sets(globs: &[String], case_insensitive: bool) -> Result<(GlobSet, GlobSet), BatchError> {
    let mut names = GlobSetBuilder::new();
    let mut paths = GlobSetBuilder::new();
    for g in globs {
        let glob: Glob = GlobBuilder::new(g)
            .literal_separator(true)
            .case_insensitive(case_insensitive)
            .build()
            .map_err(|source| BatchError::BadGlob {
                glob: g.clone(),
                source,
            })?;
        if g.contains('/') {
            paths.add(glob);
        } else {
            names.add(glob);
        }
    }
    let build = |b: GlobSetBuilder, glob: &str| {
        b.build().map_err(|source| BatchError::BadGlob {
            glob: glob.to_string(),
            source,
        })
    };
    Ok((
        build(names, &globs.join(" "))?,
        build(paths, &globs.join(" "))?,
    ))
}

/// One input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// Path relative to INPUT_DIR, `/`-separated (what the manifest records).
    pub rel: String,
    /// Where to read it.
    pub path: PathBuf,
    /// Output path relative to OUTPUT_DIR, `/`-separated.
    pub output: String,
}

/// What the walk reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Input(Input),
    /// Something that should have been an input but cannot be (unreadable directory, a name that is
    /// not UTF-8): recorded as a failure so that it is not silently lost.
    Unusable {
        rel: String,
        error: String,
    },
    /// Worth telling the user, not a failure (a symbolic link that was not followed).
    Note(String),
}

/// The file name extension outputs get for a format.
pub fn output_extension(format: Format) -> &'static str {
    match format {
        Format::Text => "txt",
        Format::Markdown => "md",
        Format::Json => "json",
    }
}

/// A streaming walk over INPUT_DIR (an iterator of [`Found`]).
pub struct Walk {
    root: PathBuf,
    skip: Vec<PathBuf>,
    filter: Filter,
    out_ext: &'static str,
    /// One frame per open directory: its relative path and its remaining entries (reversed, so the next
    /// one is popped from the end).
    stack: Vec<Frame>,
    pending_root_error: Option<String>,
}

struct Frame {
    rel: String,
    entries: Vec<Entry>,
}

/// A directory entry, classified once when its directory is read.
struct Entry {
    name: OsString,
    kind: Kind,
    /// The output file name, decided with the sibling files in view (see [`output_names`]).
    output_name: Option<String>,
}

enum Kind {
    Dir,
    File,
    Symlink,
    Other,
}

impl Walk {
    /// Walk `root` (a canonical path). The directories in `skip` (canonical) are left out: the output
    /// directory when it lies inside `root`.
    pub fn new(root: PathBuf, skip: Vec<PathBuf>, filter: Filter, format: Format) -> Walk {
        let mut walk = Walk {
            root,
            skip,
            filter,
            out_ext: output_extension(format),
            stack: Vec::new(),
            pending_root_error: None,
        };
        match walk.read_dir("") {
            Ok(frame) => walk.stack.push(frame),
            Err(e) => walk.pending_root_error = Some(e),
        }
        walk
    }

    fn read_dir(&self, rel: &str) -> Result<Frame, String> {
        let dir = self.root.join(rel);
        let mut entries = Vec::new();
        let listing = fs::read_dir(&dir).map_err(|e| format!("cannot read directory: {e}"))?;
        for entry in listing {
            let entry = entry.map_err(|e| format!("cannot read directory: {e}"))?;
            let name = entry.file_name();
            if name.as_encoded_bytes().first() == Some(&b'.') {
                continue;
            }
            let kind = match entry.file_type() {
                Ok(t) if t.is_dir() => Kind::Dir,
                Ok(t) if t.is_file() => Kind::File,
                Ok(t) if t.is_symlink() => Kind::Symlink,
                _ => Kind::Other,
            };
            entries.push(Entry {
                name,
                kind,
                output_name: None,
            });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        self.name_outputs(rel, &mut entries);
        entries.reverse();
        Ok(Frame {
            rel: rel.to_string(),
            entries,
        })
    }

    /// Decide output names for the input files of one directory (see [`output_names`]).
    fn name_outputs(&self, rel: &str, entries: &mut [Entry]) {
        let inputs: Vec<usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e.kind, Kind::File | Kind::Symlink))
            .filter_map(|(i, e)| {
                let name = e.name.to_str()?;
                self.filter.is_input(&join(rel, name), name).then_some(i)
            })
            .collect();
        let names: Vec<&str> = inputs
            .iter()
            .filter_map(|&i| entries[i].name.to_str())
            .collect();
        let outputs = output_names(&names, self.out_ext);
        for (&i, out) in inputs.iter().zip(outputs) {
            entries[i].output_name = Some(out);
        }
    }

    /// A symbolic link is an input only when it points to a regular file inside INPUT_DIR.
    fn check_symlink(&self, rel: &str) -> Result<PathBuf, String> {
        let path = self.root.join(rel);
        let target = fs::canonicalize(&path)
            .map_err(|e| format!("{rel}: symbolic link not followed: {e}"))?;
        if !target.starts_with(&self.root) || self.skip.iter().any(|d| target.starts_with(d)) {
            return Err(format!(
                "{rel}: symbolic link to {} not followed: it points outside INPUT_DIR",
                target.display()
            ));
        }
        match fs::metadata(&target) {
            Ok(m) if m.is_file() => Ok(path),
            Ok(_) => Err(format!(
                "{rel}: symbolic link not followed: it does not point to a regular file"
            )),
            Err(e) => Err(format!("{rel}: symbolic link not followed: {e}")),
        }
    }
}

impl Iterator for Walk {
    type Item = Found;

    fn next(&mut self) -> Option<Found> {
        if let Some(error) = self.pending_root_error.take() {
            return Some(Found::Unusable {
                rel: ".".into(),
                error,
            });
        }
        loop {
            let frame = self.stack.last_mut()?;
            let Some(entry) = frame.entries.pop() else {
                self.stack.pop();
                continue;
            };
            let parent = frame.rel.clone();
            let Some(name) = entry.name.to_str() else {
                let rel = join(&parent, &entry.name.to_string_lossy());
                if matches!(entry.kind, Kind::File | Kind::Dir) {
                    return Some(Found::Unusable {
                        rel,
                        error: "the name is not valid UTF-8, so it cannot be recorded in the \
                                manifest; rename it"
                            .into(),
                    });
                }
                continue;
            };
            let rel = join(&parent, name);
            match entry.kind {
                Kind::Dir => {
                    if self.filter.excluded(&rel, name)
                        || self.skip.iter().any(|d| *d == self.root.join(&rel))
                    {
                        continue;
                    }
                    match self.read_dir(&rel) {
                        Ok(frame) => self.stack.push(frame),
                        Err(error) => return Some(Found::Unusable { rel, error }),
                    }
                }
                Kind::File | Kind::Symlink => {
                    let Some(out_name) = entry.output_name else {
                        if matches!(entry.kind, Kind::Symlink) && self.root.join(&rel).is_dir() {
                            return Some(Found::Note(format!(
                                "{rel}: symbolic link to a directory not followed"
                            )));
                        }
                        continue;
                    };
                    let path = if matches!(entry.kind, Kind::Symlink) {
                        match self.check_symlink(&rel) {
                            Ok(p) => p,
                            Err(note) => return Some(Found::Note(note)),
                        }
                    } else {
                        self.root.join(&rel)
                    };
                    return Some(Found::Input(Input {
                        output: join(&parent, &out_name),
                        rel,
                        path,
                    }));
                }
                Kind::Other => {}
            }
        }
    }
}

/// Output file names for the input files `names` of one directory: `x.html` → `x.en.md`. When two
/// inputs share a stem (`x.html` and `x.txt`), both keep their extension (`x.html.en.md`,
/// `x.txt.en.md`) so neither overwrites the other. The rule depends only on the directory's listing,
/// so every shard names a file the same way.
pub fn output_names(names: &[&str], ext: &str) -> Vec<String> {
    let stem = |n: &str| -> String {
        match n.rfind('.') {
            Some(i) if i > 0 => n[..i].to_string(),
            _ => n.to_string(),
        }
    };
    let stems: Vec<String> = names.iter().map(|n| stem(n)).collect();
    let mut sorted = stems.clone();
    sorted.sort();
    names
        .iter()
        .zip(&stems)
        .map(|(name, s)| {
            let shared = sorted.partition_point(|x| x < s) + 1 < sorted.partition_point(|x| x <= s);
            if shared {
                format!("{name}.en.{ext}")
            } else {
                format!("{s}.en.{ext}")
            }
        })
        .collect()
}

/// `parent/name`, or `name` at the top.
fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}

/// `rel` (a `/`-separated relative path from a walk or a manifest) under `root`, refusing anything that
/// could leave `root` (`..`, absolute paths, empty components).
pub fn under(root: &Path, rel: &str) -> Option<PathBuf> {
    let mut path = root.to_path_buf();
    for part in rel.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains('\\') {
            return None;
        }
        let p = Path::new(part);
        if p.is_absolute() || p.components().count() != 1 {
            return None;
        }
        path.push(part);
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(walk: Walk) -> Vec<(String, String)> {
        walk.filter_map(|f| match f {
            Found::Input(i) => Some((i.rel, i.output)),
            _ => None,
        })
        .collect()
    }

    fn touch(root: &Path, rel: &str) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, "x").unwrap();
    }

    #[test]
    fn output_names_keep_extensions_only_on_clashes() {
        assert_eq!(
            output_names(&["a.html", "b.txt", "b.html", "c", "d.tar.htm"], "md"),
            [
                "a.en.md",
                "b.txt.en.md",
                "b.html.en.md",
                "c.en.md",
                "d.tar.en.md"
            ]
        );
    }

    #[test]
    fn walk_is_sorted_filtered_and_mirrors_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for f in [
            "z.txt",
            "a/b/x.html",
            "a/b/x.txt",
            "a/c.HTML",
            "a/skip.pdf",
            ".hidden/h.txt",
            "a/.h.txt",
            "drafts/d.md",
            "out/old.en.md",
        ] {
            touch(&root, f);
        }
        let filter = Filter::new(&[], &["drafts".into()]).unwrap();
        let walk = Walk::new(
            root.clone(),
            vec![root.join("out")],
            filter,
            Format::Markdown,
        );
        assert_eq!(
            inputs(walk),
            [
                ("a/b/x.html".into(), "a/b/x.html.en.md".into()),
                ("a/b/x.txt".into(), "a/b/x.txt.en.md".into()),
                ("a/c.HTML".into(), "a/c.en.md".into()),
                ("z.txt".into(), "z.en.md".into()),
            ]
        );
    }

    #[test]
    fn globs_with_a_slash_match_the_relative_path() {
        let f = Filter::new(&["news/**/*.html".into()], &["*draft*".into()]).unwrap();
        assert!(f.is_input("news/2021/a.html", "a.html"));
        assert!(!f.is_input("other/a.html", "a.html"));
        assert!(!f.is_input("news/a-draft.html", "a-draft.html"));
        assert!(matches!(
            Filter::new(&["a[".into()], &[]),
            Err(BatchError::BadGlob { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_followed_only_to_files_inside() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let root = base.join("in");
        touch(&root, "real.txt");
        touch(&base, "secret.txt");
        std::os::unix::fs::symlink(root.join("real.txt"), root.join("inside.txt")).unwrap();
        std::os::unix::fs::symlink(base.join("secret.txt"), root.join("outside.txt")).unwrap();
        std::os::unix::fs::symlink(&base, root.join("loop")).unwrap();
        let found: Vec<Found> = Walk::new(
            root.clone(),
            vec![],
            Filter::new(&[], &[]).unwrap(),
            Format::Text,
        )
        .collect();
        let rels: Vec<&str> = found
            .iter()
            .filter_map(|f| match f {
                Found::Input(i) => Some(i.rel.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(rels, ["inside.txt", "real.txt"]);
        let notes: Vec<&str> = found
            .iter()
            .filter_map(|f| match f {
                Found::Note(n) => Some(n.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].starts_with("loop: symbolic link to a directory"));
        assert!(notes[1].starts_with("outside.txt") && notes[1].contains("outside INPUT_DIR"));
    }

    #[test]
    fn under_refuses_escapes() {
        let root = Path::new("/out");
        assert_eq!(under(root, "a/b.txt"), Some(PathBuf::from("/out/a/b.txt")));
        for bad in ["../x", "a/../../x", "/etc/passwd", "a//b", "", "a/./b"] {
            assert_eq!(under(root, bad), None, "{bad}");
        }
    }
}
